use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;

/// A line as the writer would produce it.
fn line(time: &str, kind: &str, from: &str, to: &str, outcome: &str) -> String {
    let (source, destination) = if from.contains("sip.example") {
        ("sip", "xmpp")
    } else {
        ("xmpp", "sip")
    };
    format!(
        r#"{{"time":"{time}","session":"s1","type":"{kind}","from":"{from}","to":"{to}","source":"{source}","destination":"{destination}","direction":"{source}_to_{destination}","outcome":"{outcome}","bytes":12}}"#
    )
}

const FROM: Month = Month {
    year: 2025,
    month: 12,
};

/// Month i (0..12, from 2025-12): i+1 messages alice→juliet, i messages romeo→bob, two
/// bob→x@partner2.example in even months, plus traffic that must not count.
fn year() -> Vec<String> {
    let mut lines = Vec::new();
    let mut m = FROM;
    for i in 0..12u32 {
        let t = format!("{m}-15T10:00:00.000Z");
        for _ in 0..=i {
            lines.push(line(
                &t,
                "im",
                "alice@sip.example",
                "juliet@xmpp.example",
                "delivered",
            ));
        }
        for _ in 0..i {
            lines.push(line(
                &t,
                "im",
                "romeo@xmpp.example",
                "bob@sip.example",
                "delivered",
            ));
        }
        if i % 2 == 0 {
            for _ in 0..2 {
                lines.push(line(
                    &t,
                    "im",
                    "bob@sip.example",
                    "x@partner2.example",
                    "spooled",
                ));
            }
        }
        lines.push(line(
            &t,
            "im",
            "alice@sip.example",
            "juliet@xmpp.example",
            "refused",
        ));
        lines.push(line(
            &t,
            "presence",
            "alice@sip.example",
            "juliet@xmpp.example",
            "delivered",
        ));
        m = m.next();
    }
    // Before the range: not counted.
    lines.push(line(
        "2025-11-30T23:59:59.999Z",
        "im",
        "alice@sip.example",
        "juliet@xmpp.example",
        "delivered",
    ));
    lines
}

fn write_logs(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let lines = year();
    let (old, new) = lines.split_at(lines.len() / 2);
    let gz = dir.join("audit.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    for l in old {
        writeln!(enc, "{l}").unwrap();
    }
    enc.finish().unwrap();
    let plain = dir.join("audit.log");
    let mut f = std::fs::File::create(&plain).unwrap();
    for l in new {
        writeln!(f, "{l}").unwrap();
    }
    writeln!(f, "not json").unwrap();
    vec![plain, gz]
}

fn opts() -> Options {
    Options {
        from: FROM,
        to: "2026-11".parse().unwrap(),
        local: LocalPlatform::Sip,
        top: 10,
    }
}

fn dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("parley-report-{name}-{}", std::process::id()))
}

#[test]
fn months() {
    assert_eq!(FROM.minus(1).to_string(), "2025-11");
    assert_eq!(FROM.next().to_string(), "2026-01");
    assert_eq!(FROM.minus(12).to_string(), "2024-12");
    assert_eq!(
        "2026-01".parse::<Month>().unwrap().minus(11),
        "2025-02".parse().unwrap()
    );
    for bad in ["2026-13", "2026-1", "26-01", "2026/01", ""] {
        assert!(bad.parse::<Month>().is_err(), "{bad}");
    }
    assert_eq!(
        Month::of_time("2026-03-01T00:00:00Z"),
        Some("2026-03".parse().unwrap())
    );
}

#[test]
fn a_year_of_lines_gives_the_known_counts() {
    let d = dir("year");
    let files = write_logs(&d);
    let u = compute(&files, &opts()).unwrap();
    assert_eq!(u.months.len(), 12);
    assert_eq!(u.unparsed, 1);
    let mut m = FROM;
    let mut total = 0;
    for i in 0..12u64 {
        let even = i % 2 == 0;
        let extra = if even { 2 } else { 0 };
        let cell = |rows: &BTreeMap<(Month, String), Cell>, key: &str| {
            rows.get(&(m, key.to_owned())).copied().unwrap_or_default()
        };
        let local_users = 1 + usize::from(i > 0 || even);
        assert_eq!(
            cell(&u.local, "sip.example"),
            Cell {
                users: local_users,
                messages: (i + 1) + i + extra
            },
            "{m}"
        );
        assert_eq!(
            cell(&u.remote, "xmpp.example"),
            Cell {
                users: 1 + usize::from(i > 0),
                messages: (i + 1) + i
            },
            "{m}"
        );
        assert_eq!(
            cell(&u.remote, "partner2.example"),
            Cell {
                users: usize::from(even),
                messages: extra
            },
            "{m}"
        );
        assert_eq!(
            cell(&u.pairs, "sip→xmpp"),
            Cell {
                users: 1 + usize::from(even),
                messages: i + 1 + extra
            },
            "{m}"
        );
        assert_eq!(
            cell(&u.pairs, "xmpp→sip"),
            Cell {
                users: usize::from(i > 0),
                messages: i
            },
            "{m}"
        );
        total += (i + 1) + i + extra;
        m = m.next();
    }
    assert_eq!(u.counted, total);
    assert_eq!(
        u.partners,
        vec![
            Partner {
                domain: "xmpp.example".into(),
                users: 2,
                messages: 144
            },
            Partner {
                domain: "partner2.example".into(),
                users: 1,
                messages: 12
            },
        ]
    );
    // A narrower range, and the directory as input.
    let narrow = Options {
        from: "2026-11".parse().unwrap(),
        ..opts()
    };
    let u = compute(std::slice::from_ref(&d), &narrow).unwrap();
    assert_eq!(u.counted, 12 + 11);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn table_csv_and_svg() {
    let d = dir("render");
    let files = write_logs(&d);
    let o = opts();
    let u = compute(&files, &o).unwrap();
    let mut out = Vec::new();
    render(&u, &o, Format::Csv, &mut out).unwrap();
    let csv = String::from_utf8(out).unwrap();
    assert!(csv.starts_with("section,month,key,users,messages\n"));
    assert!(
        csv.contains("local_domain,2026-11,sip.example,2,23\n"),
        "{csv}"
    );
    assert!(
        csv.contains("top_partner,2025-12..2026-11,xmpp.example,2,144\n"),
        "{csv}"
    );
    let mut out = Vec::new();
    render(&u, &o, Format::Table, &mut out).unwrap();
    let table = String::from_utf8(out).unwrap();
    assert!(table.contains("Per platform pair"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("2026-11") && l.contains("sip.example") && l.ends_with(" 23")),
        "{table}"
    );
    let mut out = Vec::new();
    render(&u, &o, Format::Svg, &mut out).unwrap();
    let svg = String::from_utf8(out).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
    assert!(svg.contains("xmpp.example") && svg.contains("2026-11") && svg.contains("total"));
    if let Ok(path) = std::env::var("PARLEY_REPORT_SVG") {
        std::fs::write(path, &svg).unwrap();
    }
    std::fs::remove_dir_all(&d).unwrap();
}

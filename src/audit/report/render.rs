//! Report output: text tables, CSV, and an SVG chart drawn with plotters.

use std::collections::BTreeMap;
use std::io::{self, Write};

use plotters::prelude::*;

use super::{Cell, Month, Options, Usage};

type Section<'a> = (&'a str, &'a str, &'a BTreeMap<(Month, String), Cell>);

fn sections(u: &Usage) -> [Section<'_>; 3] {
    [
        ("local_domain", "Per local domain", &u.local),
        ("remote_domain", "Per remote domain", &u.remote),
        ("platform_pair", "Per platform pair", &u.pairs),
    ]
}

fn range(opts: &Options) -> String {
    format!("{}..{}", opts.from, opts.to)
}

/// Aligned text tables, one per section, rows by month then key.
pub fn table(u: &Usage, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "parley usage {} (instant messages delivered or spooled; local platform: {}; {} messages)",
        range(opts),
        opts.local.as_str(),
        u.counted
    )?;
    for (_, title, rows) in sections(u) {
        let width = rows
            .keys()
            .map(|(_, k)| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(6);
        writeln!(out, "\n{title}")?;
        writeln!(
            out,
            "{:<8}  {:<width$}  {:>8}  {:>10}",
            "month", "key", "users", "messages"
        )?;
        for ((month, key), c) in rows {
            let pad = width - key.chars().count();
            writeln!(
                out,
                "{:<8}  {key}{:pad$}  {:>8}  {:>10}",
                month.to_string(),
                "",
                c.users,
                c.messages
            )?;
        }
    }
    writeln!(out, "\nTop partners {}", range(opts))?;
    let width = u
        .partners
        .iter()
        .map(|p| p.domain.len())
        .max()
        .unwrap_or(0)
        .max(6);
    writeln!(
        out,
        "{:>4}  {:<width$}  {:>8}  {:>10}",
        "rank", "domain", "users", "messages"
    )?;
    for (i, p) in u.partners.iter().enumerate() {
        writeln!(
            out,
            "{:>4}  {:<width$}  {:>8}  {:>10}",
            i + 1,
            p.domain,
            p.users,
            p.messages
        )?;
    }
    Ok(())
}

/// Quote a CSV field when needed (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `section,month,key,users,messages`; top partners have the range as their month.
pub fn csv(u: &Usage, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "section,month,key,users,messages")?;
    for (name, _, rows) in sections(u) {
        for ((month, key), c) in rows {
            writeln!(
                out,
                "{name},{month},{},{},{}",
                field(key),
                c.users,
                c.messages
            )?;
        }
    }
    for p in &u.partners {
        writeln!(
            out,
            "top_partner,{},{},{},{}",
            range(opts),
            field(&p.domain),
            p.users,
            p.messages
        )?;
    }
    Ok(())
}

/// Messages per month for each key of `rows` (restricted to `keys` when given).
fn series(
    u: &Usage,
    rows: &BTreeMap<(Month, String), Cell>,
    keys: Option<&[String]>,
) -> Vec<(String, Vec<u64>)> {
    let mut by_key: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    if let Some(keys) = keys {
        for k in keys {
            by_key.insert(k, vec![0; u.months.len()]);
        }
    }
    for ((month, key), c) in rows {
        let Some(i) = u.months.iter().position(|m| m == month) else {
            continue;
        };
        if keys.is_some() && !by_key.contains_key(key.as_str()) {
            continue;
        }
        by_key.entry(key).or_insert_with(|| vec![0; u.months.len()])[i] += c.messages;
    }
    by_key.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Two line charts, one above the other: messages per month by platform pair (and in total),
/// and messages per month for the top partner domains (at most five).
pub fn svg(u: &Usage, opts: &Options) -> Result<String, String> {
    let mut pairs = series(u, &u.pairs, None);
    let total: Vec<u64> = (0..u.months.len())
        .map(|i| pairs.iter().map(|(_, v)| v[i]).sum())
        .collect();
    pairs.push(("total".to_owned(), total));
    let top: Vec<String> = u
        .partners
        .iter()
        .take(5)
        .map(|p| p.domain.clone())
        .collect();
    let partners = series(u, &u.remote, Some(&top));
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 760)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (upper, lower) = root.split_vertically(380);
        let title = format!("Messages per month by platform pair, {}", range(opts));
        chart(&upper, &title, &u.months, &pairs)?;
        chart(
            &lower,
            "Messages per month, top partner domains",
            &u.months,
            &partners,
        )?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn chart(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    months: &[Month],
    series: &[(String, Vec<u64>)],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let ymax = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let xmax = months.len().saturating_sub(1).max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .margin_right(45)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0..xmax, 0..ymax + ymax / 10 + 1)
        .map_err(err)?;
    let label = |i: &usize| months.get(*i).map(Month::to_string).unwrap_or_default();
    chart
        .configure_mesh()
        .x_labels(months.len().max(2))
        .x_label_formatter(&label)
        .y_desc("messages")
        .draw()
        .map_err(err)?;
    for (idx, (name, values)) in series.iter().enumerate() {
        let color = Palette99::pick(idx).to_rgba();
        let points: Vec<(usize, u64)> = values.iter().copied().enumerate().collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

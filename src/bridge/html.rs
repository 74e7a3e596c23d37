//! XHTML-IM (XEP-0071) ⇄ `text/html`: one tolerant sanitiser for both directions, and the
//! plain-text rendering every rich message also carries.
//!
//! The canonical rich body is a well-formed XHTML fragment (the content of `<body>`) drawn
//! from the XEP-0071 §7 recommended profile: `a` (href with http, https, mailto, xmpp, sip,
//! sips or tel), `blockquote`, `br`, `cite`, `code`, `div`, `em`, `h1`–`h6`, `li`, `ol`, `p`,
//! `pre`, `q`, `span`, `strong`, `ul`; `b` → `strong`, `i` → `em`. No other attribute
//! crosses (XEP-0071 §9 security: no `style`, no event handlers, no images that could
//! track). `script`, `style`, `head`, `title`, `object`, `iframe`, `embed` and `template`
//! are dropped with their content; any other element is unwrapped and its text kept.

use std::fmt::Write as _;

/// Elements kept, as they are written out.
const KEPT: &[&str] = &[
    "a",
    "blockquote",
    "br",
    "cite",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "span",
    "strong",
    "ul",
];

/// Elements dropped together with their content.
const DROPPED: &[&str] = &[
    "script", "style", "head", "title", "object", "iframe", "embed", "template",
];

/// URL schemes a link may use.
const SCHEMES: &[&str] = &[
    "http:", "https:", "mailto:", "xmpp:", "sip:", "sips:", "tel:",
];

/// A tag as scanned: `(name lower-cased, attribute text, is end tag, self-closed)`.
struct Tag<'s> {
    name: String,
    attrs: &'s str,
    end: bool,
    empty: bool,
}

fn kept(name: &str) -> Option<&'static str> {
    match name {
        "b" => Some("strong"),
        "i" => Some("em"),
        n => KEPT.iter().find(|k| **k == n).copied(),
    }
}

/// Sanitise HTML or XHTML (a whole document, an XEP-0071 `<html>` wrapper or a fragment) into
/// the canonical XHTML fragment. `None` when nothing but whitespace is left.
pub fn sanitize(input: &str) -> Option<String> {
    let mut out = String::with_capacity(input.len());
    let mut stack: Vec<&'static str> = Vec::new();
    let mut skip: Option<String> = None;
    let mut rest = input;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if skip.is_none() {
                push_text(&mut out, rest);
            }
            break;
        };
        if skip.is_none() {
            push_text(&mut out, &rest[..lt]);
        }
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").unwrap_or(after.len());
            if skip.is_none() {
                escape_text(&mut out, &after[..end]);
            }
            rest = after.get(end + 3..).unwrap_or("");
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |e| &rest[e + 1..]);
            continue;
        }
        let Some((tag, after)) = scan_tag(rest) else {
            // A lone '<' is text.
            if skip.is_none() {
                out.push_str("&lt;");
            }
            rest = &rest[1..];
            continue;
        };
        rest = after;
        if let Some(s) = &skip {
            if tag.end && tag.name == *s {
                skip = None;
            }
            continue;
        }
        if DROPPED.contains(&tag.name.as_str()) {
            if !tag.end && !tag.empty {
                skip = Some(tag.name);
            }
            continue;
        }
        let Some(name) = kept(&tag.name) else {
            if !tag.end
                && matches!(tag.name.as_str(), "img")
                && let Some(alt) = attr(tag.attrs, "alt").filter(|a| !a.trim().is_empty())
            {
                escape_text(&mut out, &decode_entities(alt));
            }
            continue;
        };
        if name == "br" {
            if !tag.end {
                out.push_str("<br/>");
            }
            continue;
        }
        if tag.end {
            if let Some(pos) = stack.iter().rposition(|n| *n == name) {
                for n in stack.drain(pos..).rev() {
                    let _ = write!(out, "</{n}>");
                }
            }
            continue;
        }
        out.push('<');
        out.push_str(name);
        if name == "a"
            && let Some(href) = attr(tag.attrs, "href")
        {
            let href = decode_entities(href.trim());
            let lower = href.to_ascii_lowercase();
            if SCHEMES.iter().any(|s| lower.starts_with(s)) {
                out.push_str(" href=\"");
                escape_attr(&mut out, &href);
                out.push('"');
            }
        }
        if tag.empty {
            out.push_str("/>");
        } else {
            out.push('>');
            stack.push(name);
        }
    }
    for n in stack.into_iter().rev() {
        let _ = write!(out, "</{n}>");
    }
    (!to_plain(&out).is_empty()).then_some(out)
}

/// Scan `<name attrs>` / `</name>` at the start of `s`.
fn scan_tag(s: &str) -> Option<(Tag<'_>, &str)> {
    let inner = s.strip_prefix('<')?;
    let (end, inner) = match inner.strip_prefix('/') {
        Some(i) => (true, i),
        None => (false, inner),
    };
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-' || c == '_'))
        .unwrap_or(inner.len());
    if name_len == 0 || !inner.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let raw_name = &inner[..name_len];
    // A prefixed XHTML name (`xhtml:p`) is read by its local part.
    let name = raw_name.rsplit(':').next().unwrap_or(raw_name);
    let mut i = name_len;
    let bytes = inner.as_bytes();
    let mut quote = None;
    while let Some(&b) = bytes.get(i) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b'>') => break,
            _ => {}
        }
        i += 1;
    }
    if i >= bytes.len() {
        return None;
    }
    let attrs = inner[name_len..i].trim();
    let empty = attrs.ends_with('/');
    let attrs = attrs.trim_end_matches('/');
    Some((
        Tag {
            name: name.to_ascii_lowercase(),
            attrs,
            end,
            empty,
        },
        &inner[i + 1..],
    ))
}

/// An attribute's raw value (quotes removed, entities not yet decoded).
fn attr<'s>(attrs: &'s str, want: &str) -> Option<&'s str> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return None;
        }
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        let value = if let Some(v) = rest.strip_prefix('=') {
            let v = v.trim_start();
            match v.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &v[1..];
                    let end = body.find(q).unwrap_or(body.len());
                    rest = body.get(end + 1..).unwrap_or("");
                    &body[..end]
                }
                _ => {
                    let end = v.find(char::is_whitespace).unwrap_or(v.len());
                    rest = &v[end..];
                    &v[..end]
                }
            }
        } else {
            ""
        };
        if name.eq_ignore_ascii_case(want) {
            return Some(value);
        }
    }
}

fn push_text(out: &mut String, raw: &str) {
    escape_text(out, &decode_entities(raw));
}

/// Decode the five XML entities, `&nbsp;` and numeric references; unknown ones stay text.
pub fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').filter(|&i| i <= 10);
        let decoded = semi.and_then(|i| {
            let ent = &after[..i];
            let c = match ent {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => '\u{a0}',
                "eacute" => 'é',
                "egrave" => 'è',
                "agrave" => 'à',
                "aacute" => 'á',
                "ccedil" => 'ç',
                "auml" => 'ä',
                "ouml" => 'ö',
                "uuml" => 'ü',
                "szlig" => 'ß',
                "copy" => '©',
                "reg" => '®',
                "euro" => '€',
                "hellip" => '…',
                "mdash" => '—',
                "ndash" => '–',
                "lsquo" => '‘',
                "rsquo" => '’',
                "ldquo" => '“',
                "rdquo" => '”',
                _ => {
                    let n = if let Some(h) = ent.strip_prefix("#x").or(ent.strip_prefix("#X")) {
                        u32::from_str_radix(h, 16).ok()?
                    } else {
                        ent.strip_prefix('#')?.parse().ok()?
                    };
                    char::from_u32(n).filter(|c| !c.is_control() || c.is_whitespace())?
                }
            };
            Some((c, i))
        });
        match decoded {
            Some((c, i)) => {
                out.push(c);
                rest = &after[i + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() && !matches!(c, '\n' | '\t') => {}
            c => out.push(c),
        }
    }
}

fn escape_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

/// The plain-text rendering of a sanitised fragment: tags removed, `br` and block ends as
/// line breaks, whitespace runs collapsed outside `pre`, links as `text <url>` when the
/// text differs from the URL.
pub fn to_plain(fragment: &str) -> String {
    let mut out = String::with_capacity(fragment.len());
    let mut pre = 0usize;
    let mut href: Vec<Option<String>> = Vec::new();
    let mut link_text_start: Vec<usize> = Vec::new();
    let mut rest = fragment;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = decode_entities(&rest[..lt]);
        for c in text.chars() {
            if pre == 0 && c.is_whitespace() && c != '\u{a0}' {
                if !out.is_empty() && !out.ends_with([' ', '\n']) {
                    out.push(' ');
                }
            } else {
                out.push(c);
            }
        }
        rest = &rest[lt..];
        let Some((tag, after)) = scan_tag(rest) else {
            if let Some(r) = rest.get(1..) {
                rest = r;
            } else {
                break;
            }
            continue;
        };
        rest = after;
        match (tag.name.as_str(), tag.end) {
            ("br", _) => newline(&mut out, false),
            ("pre", false) => pre += 1,
            ("pre", true) => {
                pre = pre.saturating_sub(1);
                newline(&mut out, false);
            }
            ("a", false) => {
                href.push(attr(tag.attrs, "href").map(|h| decode_entities(h).into_owned()));
                link_text_start.push(out.len());
            }
            ("a", true) => {
                let start = link_text_start.pop().unwrap_or(out.len());
                if let Some(Some(h)) = href.pop() {
                    let text = out.get(start..).unwrap_or("").trim().to_owned();
                    let bare = h.strip_prefix("mailto:").unwrap_or(&h);
                    if text != h && text != bare {
                        let _ = write!(out, " <{h}>");
                    }
                }
            }
            ("p" | "div" | "li" | "blockquote" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6", _) => {
                newline(&mut out, true)
            }
            _ => {}
        }
    }
    out.trim().to_owned()
}

fn newline(out: &mut String, block: bool) {
    while out.ends_with(' ') {
        out.pop();
    }
    if block && (out.is_empty() || out.ends_with('\n')) {
        return;
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_reduced_to_the_xep_0071_profile() {
        let html = "<html><head><title>x</title><style>p{}</style></head><body>\
            <p style='color:red' onclick='evil()'>Hi <b>there</b> <i>you</i></p>\
            <script>alert(1)</script><img src='http://t.example/p.gif' alt='pic'>\
            <a href='javascript:alert(1)'>bad</a> <a href=\"https://x.example/?a=1&amp;b=2\">good</a>\
            <br>line<unknown>kept</unknown></body></html>";
        assert_eq!(
            sanitize(html).unwrap(),
            "<p>Hi <strong>there</strong> <em>you</em></p>pic<a>bad</a> \
             <a href=\"https://x.example/?a=1&amp;b=2\">good</a><br/>linekept"
        );
    }

    #[test]
    fn unclosed_and_stray_tags_become_well_formed() {
        assert_eq!(
            sanitize("<p><strong>bold <em>both</p> tail</em> 1 < 2").unwrap(),
            "<p><strong>bold <em>both</em></strong></p> tail 1 &lt; 2"
        );
    }

    #[test]
    fn xhtml_im_wrapper_is_unwrapped() {
        let xml = "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>Hello <em>world</em>&amp;co</p></body></html>";
        assert_eq!(sanitize(xml).unwrap(), "<p>Hello <em>world</em>&amp;co</p>");
    }

    #[test]
    fn plain_rendering() {
        assert_eq!(
            to_plain("<p>Hello <em>world</em></p><p>second&amp;\n  line</p>"),
            "Hello world\nsecond& line"
        );
        assert_eq!(
            to_plain("see <a href=\"https://x.example/\">this</a>"),
            "see this <https://x.example/>"
        );
        assert_eq!(
            to_plain("<a href=\"https://x.example/\">https://x.example/</a>"),
            "https://x.example/"
        );
        assert_eq!(sanitize("<p>  </p>"), None);
    }
}

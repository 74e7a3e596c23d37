//! External marking (DESIGN "Policy"): the label appended to a federated sender's display
//! name — the SIP From display name (RFC 3261 §20.20) or the XEP-0172 nick — so users see
//! who is outside their company. Pure: the encoders quote and escape what this returns.

use std::borrow::Cow;

/// Longest display name kept (characters), before the label.
const MAX_NAME_CHARS: usize = 128;

/// Control characters become spaces (no header or line injection), the result is trimmed
/// and bounded. A name that needs none of that (the usual case) is borrowed as it is.
fn clean(s: &str, max: usize) -> Cow<'_, str> {
    // At most `max` bytes is at most `max` characters: nothing would be cut.
    if s.len() <= max && !s.chars().any(char::is_control) {
        return Cow::Borrowed(s.trim());
    }
    Cow::Owned(clean_by_chars(s, max))
}

/// [`clean`] character by character.
fn clean_by_chars(s: &str, max: usize) -> String {
    let c: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    c.trim().to_owned()
}

/// The display name to send for a federated sender: its own name (or, without one, the user
/// part of its address) followed by `label`. `None` when the label is empty (marking off):
/// the caller then leaves the name as the bridge translated it.
pub fn labelled_name(label: &str, name: Option<&str>, user: &str) -> Option<String> {
    let label = clean(label, MAX_NAME_CHARS);
    if label.is_empty() {
        return None;
    }
    let name = name
        .map(|n| clean(n, MAX_NAME_CHARS))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| clean(user, MAX_NAME_CHARS));
    // A name that already carries the label (a contact relayed back) is not labelled twice.
    if name.ends_with(&*label) {
        return Some(name.into_owned());
    }
    if name.is_empty() {
        return Some(label.into_owned());
    }
    let mut labelled = String::with_capacity(name.len() + 1 + label.len());
    labelled.push_str(&name);
    labelled.push(' ');
    labelled.push_str(&label);
    Some(labelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The borrowed fast path of `clean` gives what the character-by-character one does.
        #[test]
        fn clean_agrees_with_the_char_by_char_path(
            s in "[a-zA-Z \t\r\n\u{7f}\u{85}\u{a0}é()]{0,12}",
            max in 0usize..14,
        ) {
            proptest::prop_assert_eq!(clean(&s, max).into_owned(), clean_by_chars(&s, max));
        }
    }

    #[test]
    fn name_gets_the_label() {
        let n = labelled_name("(external)", Some("Juliet"), "juliet");
        assert_eq!(n.as_deref(), Some("Juliet (external)"));
    }

    #[test]
    fn user_part_stands_in_for_a_missing_or_blank_name() {
        assert_eq!(
            labelled_name("(external)", None, "bob").as_deref(),
            Some("bob (external)")
        );
        assert_eq!(
            labelled_name("[ext]", Some("  \r\n "), "bob").as_deref(),
            Some("bob [ext]")
        );
    }

    #[test]
    fn empty_label_disables_marking() {
        assert_eq!(labelled_name("", Some("Juliet"), "juliet"), None);
        assert_eq!(labelled_name(" \t", None, "juliet"), None);
    }

    #[test]
    fn control_characters_cannot_inject_lines() {
        let n = labelled_name("(ext)\r\nX-Evil: 1", Some("Ju\"liet\r\nVia: x"), "j").unwrap();
        assert!(!n.contains('\r') && !n.contains('\n'), "{n:?}");
        assert_eq!(n, "Ju\"liet  Via: x (ext)  X-Evil: 1");
    }

    #[test]
    fn not_labelled_twice_and_bounded() {
        assert_eq!(
            labelled_name("(external)", Some("Bob (external)"), "bob").as_deref(),
            Some("Bob (external)")
        );
        let long = "x".repeat(10_000);
        let n = labelled_name("(external)", Some(&long), "bob").unwrap();
        assert_eq!(n.chars().count(), MAX_NAME_CHARS + " (external)".len());
    }
}

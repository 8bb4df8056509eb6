//! A secret value that cannot be printed by accident.
//!
//! Every value muster generates, stores or delivers travels in a [`SecretValue`]: its `Debug`
//! prints `***`, it has no `Display`, and its memory is wiped when it is dropped. Code that needs
//! the text calls [`SecretValue::expose`], which makes each use visible in review.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    pub fn new(value: String) -> SecretValue {
        SecretValue(Zeroizing::new(value))
    }

    /// The text itself: only for writing it where it belongs (store, runtime files, a hook's
    /// environment, `show --reveal`).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for SecretValue {
    fn from(s: &str) -> SecretValue {
        SecretValue::new(s.to_string())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SecretValue, D::Error> {
        String::deserialize(d).map(SecretValue::new)
    }
}

/// Replaces every occurrence of the given values in `text` with `***` (values shorter than four
/// characters are left alone: masking them would garble ordinary words). Used on output that
/// muster does not control, such as an `on_rotate` command's.
pub fn mask<'a>(text: &str, values: impl IntoIterator<Item = &'a SecretValue>) -> String {
    let mut values: Vec<&str> = values
        .into_iter()
        .map(SecretValue::expose)
        .filter(|v| v.chars().count() >= 4)
        .collect();
    // Longer first, so a value that contains another is masked whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut out = text.to_string();
    for v in values {
        if out.contains(v) {
            out = out.replace(v, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::from("hunter2-very-secret");
        assert_eq!(format!("{v:?}"), "***");
        assert_eq!(format!("{:?}", Some(&v)), "Some(***)");
        assert_eq!(v.expose(), "hunter2-very-secret");
    }

    #[test]
    fn serializes_as_a_plain_string() {
        let v = SecretValue::from("abc");
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"abc\"");
        let back: SecretValue = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn masks_values_longest_first() {
        let a = SecretValue::from("secret");
        let b = SecretValue::from("secret-and-more");
        let short = SecretValue::from("ab");
        assert_eq!(
            mask("x secret-and-more y secret ab", [&a, &b, &short]),
            "x *** y *** ab"
        );
    }
}

//! A string `command` or `entrypoint` split into words, as Compose does (REGISTRY.md is
//! silent, so Compose's meaning holds): Nomad's Docker driver takes a command and a list of
//! arguments, never a string for a shell.
//!
//! The rules are the POSIX shell's quoting without expansion: blanks separate words, single
//! quotes keep everything, double quotes keep everything but `\"` and `\\`, a backslash
//! outside quotes escapes the next character. An unclosed quote ends at the end of the text.

pub fn split(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(n @ ('"' | '\\')) => word.push(n),
                            Some(n) => {
                                word.push('\\');
                                word.push(n);
                            }
                            None => word.push('\\'),
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn words_like_a_shell_without_expansion() {
        assert_eq!(
            split("  redis-server  --save 60 1 "),
            ["redis-server", "--save", "60", "1"]
        );
        assert_eq!(
            split(r#"sh -c 'echo "$HOME"; ls'"#),
            ["sh", "-c", r#"echo "$HOME"; ls"#]
        );
        assert_eq!(
            split(r#"a "b \"c\" \n" d\ e ''"#),
            ["a", r#"b "c" \n"#, "d e", ""]
        );
        assert_eq!(split("'open"), ["open"]);
        assert!(split("   ").is_empty());
    }
}

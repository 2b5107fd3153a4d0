//! `{{variable}}` placeholders in prompts and first messages.

use std::collections::BTreeSet;

/// A template with an unclosed or empty placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{{{` at byte {0}")]
    Unclosed(usize),
    #[error("empty or invalid placeholder name at byte {0} (use letters, digits, _ . -)")]
    BadName(usize),
}

/// The distinct placeholder names in `text`, sorted.
pub fn placeholders(text: &str) -> Result<BTreeSet<String>, TemplateError> {
    let mut names = BTreeSet::new();
    scan(text, |name| {
        names.insert(name.to_string());
        None
    })?;
    Ok(names)
}

/// Replaces each placeholder with `lookup(name)`; unknown names are left as written.
pub fn render(
    text: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    scan(text, |name| lookup(name))
}

fn scan(
    text: &str,
    mut on_name: impl FnMut(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or(TemplateError::Unclosed(offset + start))?;
        let name = after[..end].trim();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            return Err(TemplateError::BadName(offset + start));
        }
        match on_name(name) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_once_each() {
        let names = placeholders("Hi {{ name }}, about {{product}} for {{name}}").unwrap();
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["name", "product"]);
    }

    #[test]
    fn render_fills_known_names_and_keeps_unknown_ones() {
        let out = render("Hi {{name}}, {{missing}}!", |n| {
            (n == "name").then(|| "Ada".to_string())
        })
        .unwrap();
        assert_eq!(out, "Hi Ada, {{missing}}!");
    }

    #[test]
    fn broken_placeholders_are_errors() {
        assert_eq!(placeholders("Hi {{name"), Err(TemplateError::Unclosed(3)));
        assert_eq!(placeholders("Hi {{ }}"), Err(TemplateError::BadName(3)));
        assert!(placeholders("Hi {{a b}}").is_err());
    }
}

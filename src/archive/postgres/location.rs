//! Where a PostgreSQL archive lives, and how that is shown in messages and logs: never with
//! its password, whichever form the connection string takes.

/// Where the archive lives: the server, and the schema in it (one archive per schema).
#[derive(Clone)]
pub struct Location {
    /// A libpq-style connection string or `postgres://` URL.
    pub url: String,
    /// The schema holding the archive's tables (created if missing).
    pub schema: String,
    /// Whether several tamga processes (frontends) write this archive, each in turns
    /// (`--database-shared`); otherwise one writes it alone, and a second is told it is in use.
    pub shared: bool,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.display())
    }
}

/// What stands for a connection string that could not be read apart safely.
const HIDDEN: &str = "(connection string not shown)";

impl Location {
    /// The location for messages: the URL or connection string without its password, and
    /// the schema.
    pub fn display(&self) -> String {
        let url = if self.url.contains("://") {
            without_url_password(&self.url)
        } else {
            without_keyword_password(&self.url)
        };
        format!(
            "{} (schema {})",
            url.as_deref().unwrap_or(HIDDEN),
            self.schema
        )
    }
}

/// `scheme://user:password@host/db?password=…` without either password.
fn without_url_password(url: &str) -> Option<String> {
    let scheme = url.find("://")? + 3;
    let (head, rest) = url.split_at(scheme);
    let (authority_end, query) = match rest.find('?') {
        Some(q) => (q, rest.get(q + 1..)),
        None => (rest.len(), None),
    };
    let before_query = rest.get(..authority_end)?;
    let shown = match before_query.rfind('@') {
        Some(at) => {
            let user = before_query.get(..at)?.split(':').next()?;
            format!("{head}{user}@{}", before_query.get(at + 1..)?)
        }
        None => format!("{head}{before_query}"),
    };
    let Some(query) = query else {
        return Some(shown);
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
        .collect();
    Some(if kept.is_empty() {
        shown
    } else {
        format!("{shown}?{}", kept.join("&"))
    })
}

/// A libpq `keyword = value` string without its password: keywords and values are read as
/// libpq reads them (spaces around `=`, single-quoted values with backslash escapes), so a
/// quoted password with spaces goes whole. `None` if it cannot be read.
fn without_keyword_password(s: &str) -> Option<String> {
    let mut kept = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest.get(..eq)?.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        let (value, after) = value(rest.get(eq + 1..)?.trim_start())?;
        if !key.eq_ignore_ascii_case("password") {
            kept.push(format!("{key}={value}"));
        }
        rest = after.trim_start();
    }
    Some(kept.join(" "))
}

/// One value at the start of `s` as written (quoted or not), and what follows it.
fn value(s: &str) -> Option<(&str, &str)> {
    if !s.starts_with('\'') {
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        return Some((s.get(..end)?, s.get(end..)?));
    }
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' => return Some((s.get(..=i)?, s.get(i + 1..)?)),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        Location {
            url: url.into(),
            schema: "tamga".into(),
            shared: false,
        }
        .display()
    }

    #[test]
    fn no_password_is_ever_shown() {
        let cases = [
            ("postgres://u:sekret@h:5432/db", "postgres://u@h:5432/db"),
            (
                "postgres://h/db?user=u&password=sekret&sslmode=require",
                "postgres://h/db?user=u&sslmode=require",
            ),
            (
                "host=h user=u password=sekret dbname=d",
                "host=h user=u dbname=d",
            ),
            ("host=h password = sekret user=u", "host=h user=u"),
            ("host=h password='se kret \\' x' user=u", "host=h user=u"),
            ("host=h PASSWORD=sekret", "host=h"),
        ];
        for (url, want) in cases {
            let got = shown(url);
            assert_eq!(got, format!("{want} (schema tamga)"), "{url}");
            assert!(!got.contains("sekret") && !got.contains("kret"), "{url}");
        }
    }

    #[test]
    fn what_cannot_be_read_is_not_shown() {
        for url in ["host=h password='unterminated sekret", "just words sekret"] {
            let got = shown(url);
            assert!(!got.contains("sekret"), "{url}: {got}");
            assert!(got.starts_with(HIDDEN));
        }
    }
}

//! Why a setting of `archive-policy.toml` was refused: one typed error for every setting
//! parser (`[revocation]`, `[signatures]`, retention periods). Each sentence names the key and
//! what it must be; [`super::PolicyError`] adds the file and line.

use crate::verify::policy::OidSyntax;

/// A refused setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// A value that is none of the accepted words (`allowed` lists them, "a nor b").
    #[error("{key} {value:?} is neither {allowed}")]
    NotOneOf {
        /// The key.
        key: &'static str,
        /// What was given.
        value: String,
        /// What is accepted.
        allowed: &'static str,
    },
    /// A number outside its range (`range`, e.g. "1 to 60 s").
    #[error("{key} must be {range}")]
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The accepted range.
        range: &'static str,
    },
    /// A value outside its range, named in the sentence.
    #[error("{key} {value:?}{sep} must be {range}")]
    ValueOutOfRange {
        /// The key.
        key: &'static str,
        /// What was given.
        value: String,
        /// Between the value and "must be": ": years" for retention periods, else nothing.
        sep: &'static str,
        /// The accepted range.
        range: &'static str,
    },
    /// A list longer than the parser keeps.
    #[error("{key} lists more than {max}")]
    TooMany {
        /// The key.
        key: &'static str,
        /// The most it may list.
        max: usize,
    },
    /// A period that is not a number with a unit (`revocation.crl-refresh`).
    #[error("{key} {value:?} is not a period like \"30s\", \"15m\", \"1h\" or \"1d\"")]
    NotAPeriod {
        /// The key.
        key: &'static str,
        /// What was given.
        value: String,
    },
    /// A `revocation.crl-hosts` entry that is not a host name.
    #[error("revocation.crl-hosts: {0:?} is not a host name")]
    NotAHost(String),
    /// A `revocation.responders` entry whose URL is not plain HTTP (RFC 6960 Appendix A).
    #[error("revocation.responders {ca:?}: {url:?} is not an http:// URL")]
    NotHttpUrl {
        /// The CA's name, the entry's key.
        ca: String,
        /// The URL given.
        url: String,
    },
    /// A `signatures.certificate-policies` entry that is not a dotted OID.
    #[error("signatures.certificate-policies: {0}")]
    PolicyOid(#[from] OidSyntax),
}

#[cfg(test)]
mod tests {
    use crate::policy::parse;
    use std::path::Path;

    const BASE: &str = "[organization]\nname = \"Demo\"\n\
        appeal = { kk = \"a\", ky = \"b\", ru = \"c\", en = \"d\" }\n\
        [[case]]\nindex = \"01-05\"\ntitle = \"T\"\nretention = \"RET\"\naccess = [\"archivist\"]\n";

    fn refusal(retention: &str, extra: &str) -> String {
        let text = format!("{}\n{extra}", BASE.replace("RET", retention));
        match parse(&text, Path::new("p.toml")) {
            Ok(_) => panic!("accepted: {extra}"),
            Err(e) => e.reason,
        }
    }

    /// The typed errors say what the String ones said: operators' runbooks quote them.
    #[test]
    fn sentences_are_kept() {
        for (retention, extra, said) in [
            (
                "5x",
                "",
                "retention \"5x\" is neither \"permanent\" nor a number of years like \"5y\"",
            ),
            ("300y", "", "retention \"300y\": years must be 1 to 200"),
            (
                "5y",
                "[revocation]\nocsp-hash = \"md5\"",
                "revocation.ocsp-hash \"md5\" is neither \"sha1\" nor \"sha256\"",
            ),
            (
                "5y",
                "[revocation]\nocsp-skew = 4000",
                "revocation.ocsp-skew must be 0 to 3600 s",
            ),
            (
                "5y",
                "[revocation]\ncrl-refresh = \"8d\"",
                "revocation.crl-refresh \"8d\" must be 1 s to 7 days",
            ),
            (
                "5y",
                "[revocation]\ncrl-refresh = \"1w\"",
                "revocation.crl-refresh \"1w\" is not a period like \"30s\", \"15m\", \"1h\" or \"1d\"",
            ),
            (
                "5y",
                "[revocation]\ncrl-hosts = [\"a b\"]",
                "revocation.crl-hosts: \"a b\" is not a host name",
            ),
            (
                "5y",
                "[revocation.responders]\n\"CN=CA\" = \"ftp://x/\"",
                "revocation.responders \"CN=CA\": \"ftp://x/\" is not an http:// URL",
            ),
        ] {
            assert_eq!(refusal(retention, extra), said);
        }
    }
}

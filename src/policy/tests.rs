use super::*;

const GOOD: &str = r#"
[organization]
name = "Demo"
appeal = { kk = "a", ky = "b", ru = "c", en = "d" }

[[case]]
index = "01-05"
title = "Приказы по основной деятельности"
retention = "permanent"
access = ["chancellery", "archivist", "auditor"]

[[case]]
index = "02-11"
title = "Переписка"
retention = "5y"
epk = true
closed = 2025
access = ["archivist"]
"#;

fn err(text: &str) -> PolicyError {
    parse(text, Path::new("p.toml")).unwrap_err()
}

#[test]
fn a_good_policy_loads() {
    let p = parse(GOOD, Path::new("p.toml")).unwrap();
    let c = p.case("02-11").unwrap();
    assert_eq!(c.retention, Retention::Years(5));
    assert!(c.epk);
    assert_eq!(c.closed, Some(2025));
    assert_eq!(p.case("01-05").unwrap().retention, Retention::Permanent);
    assert!(p.case("99-99").is_none());
}

#[test]
fn broken_files_name_line_and_reason() {
    let dup = GOOD.replace("\"02-11\"", "\"01-05\"");
    let e = err(&dup);
    assert_eq!(e.line, Some(13), "{e}");
    assert!(
        e.to_string()
            .starts_with("p.toml:13: duplicate case index \"01-05\""),
        "{e}"
    );

    let e = err(&GOOD.replace("\"5y\"", "\"five years\""));
    assert_eq!(e.line, Some(15), "{e}");
    assert!(e.reason.contains("neither \"permanent\""), "{e}");

    let e = err(&GOOD.replace("epk = true", "epk = \"yes\""));
    assert_eq!(e.line, Some(16), "{e}");

    let e = err(&GOOD.replace("[\"archivist\"]", "[\"janitor\"]"));
    assert!(
        e.reason.contains("janitor") || e.reason.contains("variant"),
        "{e}"
    );

    let e = err(&GOOD.replace("closed = 2025", "closed = 25"));
    assert!(e.reason.contains("not a year"), "{e}");

    let e = err("[organization\nname = 1");
    assert_eq!(e.line, Some(1), "{e}");

    let e = err(&GOOD.replace(
        "retention = \"permanent\"",
        "retention = \"permanent\"\ncolour = \"red\"",
    ));
    assert!(e.reason.contains("colour"), "{e}");
}

#[test]
fn retention_due_years() {
    // (retention, closed, due from 1 January of)
    let table = [
        ("5y", Some(2025), Some(2031)),
        ("1y", Some(2024), Some(2026)),
        ("10y", Some(1999), Some(2010)),
        ("75y", Some(2000), Some(2076)),
        ("permanent", Some(2025), None),
        ("5y", None, None),
    ];
    for (r, closed, due) in table {
        assert_eq!(
            r.parse::<Retention>().unwrap().due_year(closed),
            due,
            "{r} {closed:?}"
        );
    }
    for bad in ["", "y", "0y", "5", "5 y", "-5y", "1000y", "forever"] {
        assert!(bad.parse::<Retention>().is_err(), "{bad:?}");
    }
}

#[test]
fn the_shipped_demo_policy_loads() {
    let p = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml")).unwrap();
    assert!(p.cases().len() >= 3);
}

#[test]
fn signatures_section_sets_the_path_settings() {
    use crate::verify::policy::{InitialPolicies, PathSettings};
    assert_eq!(
        parse(GOOD, Path::new("p.toml")).unwrap().signatures,
        PathSettings::DEFAULT
    );
    let text = format!(
        "{GOOD}\n[signatures]\ncertificate-policies = [\"1.2.398.3.3.2.1\", \"1.2.398.3.3.2.2\"]\n\
         require-explicit-policy = true\ninhibit-any-policy = true\n"
    );
    let s = parse(&text, Path::new("p.toml")).unwrap().signatures;
    let InitialPolicies::Only(set) = &s.initial_policies else {
        panic!("{s:?}");
    };
    let dotted: Vec<String> = set.iter().map(ToString::to_string).collect();
    assert_eq!(dotted, ["1.2.398.3.3.2.1", "1.2.398.3.3.2.2"]);
    assert!(s.require_explicit_policy && s.inhibit_any_policy && !s.inhibit_policy_mapping);

    // anyPolicy among them means any.
    let any = format!("{GOOD}\n[signatures]\ncertificate-policies = [\"2.5.29.32.0\"]\n");
    let s = parse(&any, Path::new("p.toml")).unwrap().signatures;
    assert_eq!(s.initial_policies, InitialPolicies::Any);
}

#[test]
fn a_bad_policy_oid_is_refused_with_its_line() {
    for bad in [
        "1.2.398.",
        "kz-signing",
        "3.1",
        "1.40.1",
        "1.02.3",
        "7",
        "1..2",
        "-1.2",
    ] {
        let text = format!("{GOOD}\n[signatures]\ncertificate-policies = [\n  \"{bad}\",\n]\n");
        let e = err(&text);
        assert!(e.reason.contains("not an object identifier"), "{bad}: {e}");
        assert_eq!(e.line, Some(GOOD.lines().count() + 4), "{bad}: {e}");
    }
    let e = err(&format!("{GOOD}\n[signatures]\nrequire-explicit = true\n"));
    assert!(e.reason.contains("require-explicit"), "{e}");
}

#[test]
fn the_backup_root_is_absolute_or_refused() {
    let p = parse(
        &format!("{GOOD}\n[backup]\nroot = \"/srv/b\"\n"),
        Path::new("p.toml"),
    )
    .unwrap();
    assert_eq!(p.backup.root.as_deref(), Some(Path::new("/srv/b")));
    assert!(
        parse(GOOD, Path::new("p.toml"))
            .unwrap()
            .backup
            .root
            .is_none()
    );
    let e = err(&format!("{GOOD}\n[backup]\nroot = \"srv/b\"\n"));
    assert!(e.reason.contains("backup.root"), "{e}");
}

#[test]
fn the_backup_rate_cap_is_in_mb_per_second_and_bounded() {
    let p = parse(
        &format!("{GOOD}\n[backup]\nmax-rate = 40\n"),
        Path::new("p.toml"),
    )
    .unwrap();
    assert_eq!(p.backup.max_rate, Some(40));
    assert_eq!(
        parse(GOOD, Path::new("p.toml")).unwrap().backup.max_rate,
        None
    );
    let e = err(&format!("{GOOD}\n[backup]\nmax-rate = 5000000\n"));
    assert!(e.reason.contains("backup.max-rate"), "{e}");
}

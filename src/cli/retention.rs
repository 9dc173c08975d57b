//! `tamga retention …`: plan, acts, holds, ЭПК reviews. Every command takes `--json`.

use super::{CouldNotRun, Global, parse_time, say};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use tamga::retention::{self, RetentionError, acts, holds};

/// `tamga retention …`
#[derive(Subcommand)]
pub enum RetentionCommand {
    /// What is due at a date, by case: destroyable, needing ЭПК review, on hold.
    Plan(Common),
    /// Disposal acts.
    #[command(subcommand)]
    Act(ActCommand),
    /// Hold a case or a document: no act may touch it until released.
    Hold {
        /// Case index, or
        #[arg(
            long,
            conflicts_with = "registration",
            required_unless_present = "registration"
        )]
        case: Option<String>,
        /// a registration number (`--doc` is accepted too).
        #[arg(long, alias = "doc")]
        registration: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who.
        #[arg(long)]
        by: String,
        #[command(flatten)]
        common: Common,
    },
    /// Release a hold.
    Release {
        /// Hold id, e.g. H1.
        hold: String,
        /// Who.
        #[arg(long)]
        by: String,
        #[command(flatten)]
        common: Common,
    },
    /// Record the expert commission's (ЭПК) decision on a marked case.
    Review {
        /// Case index.
        #[arg(long)]
        case: String,
        /// destroy | keep
        #[arg(long)]
        decision: String,
        /// Who.
        #[arg(long)]
        by: String,
        #[command(flatten)]
        common: Common,
    },
}

/// `tamga retention act …`
#[derive(Subcommand)]
pub enum ActCommand {
    /// Draft an act over due cases.
    New {
        /// Case indexes.
        #[arg(long = "case", required = true, num_args = 1..)]
        cases: Vec<String>,
        /// The drafter.
        #[arg(long)]
        by: String,
        #[command(flatten)]
        common: Common,
    },
    /// Approve an act (not by its drafter; once per person).
    Approve {
        /// Act number.
        act: String,
        /// The approver.
        #[arg(long)]
        by: String,
        #[command(flatten)]
        common: Common,
    },
    /// Print an act in Russian and the state language.
    Show {
        /// Act number.
        act: String,
        #[command(flatten)]
        common: Common,
    },
    /// Execute a fully approved act: destroy its documents' bytes, keep tombstones.
    Execute {
        /// Act number.
        act: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Options of every retention command.
#[derive(Args, Clone)]
pub struct Common {
    /// The date to act at, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

impl Common {
    fn at(&self) -> Result<i64, CouldNotRun> {
        self.at
            .as_deref()
            .map_or_else(|| Ok(tamga::clock::now()), |s| parse_time("--at", s))
    }
}

fn done(json: bool, value: serde_json::Value, text: String) -> Result<ExitCode, CouldNotRun> {
    say(&if json { value.to_string() } else { text });
    Ok(ExitCode::SUCCESS)
}

/// Refusals exit 1 with the reason; failures to run exit 2.
fn refused(json: bool, e: RetentionError) -> Result<ExitCode, CouldNotRun> {
    match e {
        RetentionError::Refused(why) => {
            say(&if json {
                serde_json::json!({"refused": why}).to_string()
            } else {
                format!("refused: {why}")
            });
            Ok(ExitCode::from(1))
        }
        RetentionError::Archive(e) => Err(CouldNotRun(e.to_string())),
    }
}

/// Runs `tamga retention …`.
pub fn run(global: &Global, cmd: RetentionCommand) -> Result<ExitCode, CouldNotRun> {
    let policy = tamga::policy::load(&global.policy)?;
    let archive = tamga::setup::open_archive(&global.paths(), &policy.organization.name)?;
    match cmd {
        RetentionCommand::Plan(c) => plan(&archive, &policy, &c),
        RetentionCommand::Act(act) => act_command(&archive, &policy, act),
        RetentionCommand::Hold {
            case,
            registration,
            reason,
            by,
            common,
        } => {
            match holds::hold(
                &archive,
                &policy,
                case.as_deref(),
                registration.as_deref(),
                &reason,
                &by,
                common.at()?,
            ) {
                Ok(id) => done(
                    common.json,
                    serde_json::json!({"hold": id}),
                    format!("hold {id} placed"),
                ),
                Err(e) => refused(common.json, e),
            }
        }
        RetentionCommand::Release { hold, by, common } => {
            match holds::release(&archive, &hold, &by, common.at()?) {
                Ok(()) => done(
                    common.json,
                    serde_json::json!({"released": hold}),
                    format!("hold {hold} released"),
                ),
                Err(e) => refused(common.json, e),
            }
        }
        RetentionCommand::Review {
            case,
            decision,
            by,
            common,
        } => {
            match retention::record_review(&archive, &policy, &case, &decision, &by, common.at()?) {
                Ok(i) => done(
                    common.json,
                    serde_json::json!({"case": case, "decision": decision, "entry": i}),
                    format!("ЭПК decision on {case}: {decision}"),
                ),
                Err(e) => refused(common.json, e),
            }
        }
    }
}

/// `tamga retention plan`: one line per case (status, documents, bytes, due date, title).
fn plan(
    archive: &tamga::archive::Archive,
    policy: &tamga::policy::ArchivePolicy,
    c: &Common,
) -> Result<ExitCode, CouldNotRun> {
    let plan = match retention::plan(archive, policy, c.at()?) {
        Ok(plan) => plan,
        Err(e) => return refused(c.json, e),
    };
    let text = plan
        .iter()
        .map(|p| {
            format!(
                "{:<8} {:<18} {:>4} docs {:>10} bytes  due {:<10}  {}",
                p.index,
                serde_json::to_value(p.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                p.documents,
                p.bytes,
                p.due_from.as_deref().unwrap_or("never"),
                p.title
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    done(c.json, serde_json::json!({"cases": plan}), text)
}

/// `tamga retention act …`: a disposal act's life, draft → approvals → execution.
fn act_command(
    archive: &tamga::archive::Archive,
    policy: &tamga::policy::ArchivePolicy,
    cmd: ActCommand,
) -> Result<ExitCode, CouldNotRun> {
    match cmd {
        ActCommand::New { cases, by, common } => {
            match acts::draft(archive, policy, &cases, &by, common.at()?) {
                Ok(a) => done(
                    common.json,
                    serde_json::to_value(&a)?,
                    format!("act {} drafted: {} documents", a.act, a.documents.len()),
                ),
                Err(e) => refused(common.json, e),
            }
        }
        ActCommand::Approve { act, by, common } => {
            match acts::approve(archive, &act, &by, common.at()?) {
                Ok(a) => done(
                    common.json,
                    serde_json::to_value(&a)?,
                    format!(
                        "act {} approved by {by}: {} of {}",
                        a.act,
                        a.approvals.len(),
                        a.approvals_required
                    ),
                ),
                Err(e) => refused(common.json, e),
            }
        }
        ActCommand::Show { act, common } => match acts::get(archive, &act) {
            Ok(a) => {
                let text = retention::render::text(&a, &policy.organization.country);
                done(
                    common.json,
                    serde_json::json!({"act": a, "text": text}),
                    text,
                )
            }
            Err(e) => refused(common.json, e),
        },
        ActCommand::Execute { act, common } => {
            match acts::execute(archive, policy, &act, common.at()?) {
                Ok(a) => done(
                    common.json,
                    serde_json::to_value(&a)?,
                    format!(
                        "act {} executed: {} documents destroyed",
                        a.act,
                        a.documents.len()
                    ),
                ),
                Err(e) => refused(common.json, e),
            }
        }
    }
}

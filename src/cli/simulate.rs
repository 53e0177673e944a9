//! `whydenied simulate`: one request evaluated against the stored policies.

use super::*;

#[derive(Debug, Args)]
pub(super) struct SimulateArgs {
    /// The principal: a role, user or assumed-role session ARN, or a service principal (s3.amazonaws.com).
    #[arg(long, value_name = "ARN")]
    pub(super) principal: String,
    /// The action, e.g. sqs:ReceiveMessage.
    #[arg(long, value_name = "ACTION")]
    pub(super) action: String,
    /// The resource ARN.
    #[arg(long, value_name = "ARN", default_value = "*")]
    pub(super) resource: String,
    /// A condition key and its value; repeat a key for several values.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub(super) context: Vec<String>,
    /// A policy document to add to the principal's identity policies for this question only.
    #[arg(long, value_name = "FILE")]
    pub(super) with_policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub(super) format: SimFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum SimFormat {
    Table,
    Json,
}

pub(super) fn simulate(db: Option<PathBuf>, a: SimulateArgs, rules: &Rules) -> Result<i32> {
    use whydenied::evaluate::ask;
    let path = db_path(db)?;
    let store = match Store::open_existing(&path)? {
        Some(s) => s,
        None => bail!(
            "no database at {}: import the principal's policies first (`whydenied import`)",
            path.display()
        ),
    };
    let mut given = Vec::new();
    for kv in &a.context {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow!("--context {kv:?}: expected KEY=VALUE"))?;
        given.push((k.trim().to_string(), v.to_string()));
    }
    let with_policy = match &a.with_policy {
        Some(f) => {
            let v = read_json(f)?;
            let policy =
                whydenied::policy::Policy::parse(&v).with_context(|| format!("{}", f.display()))?;
            Some((f.display().to_string(), policy))
        }
        None => None,
    };
    let action = rules.canonical_action(&a.action);
    let verdict = ask::ask(
        &store,
        rules,
        ask::Question {
            principal: &a.principal,
            action: &a.action,
            resource: &a.resource,
            context: &given,
            with_policy,
        },
    )?;
    match a.format {
        SimFormat::Json => print(&format!("{}\n", serde_json::to_string_pretty(&verdict)?))?,
        SimFormat::Table => print(&out::verdict::table(&verdict, &action, &a.resource))?,
    }
    Ok(0)
}

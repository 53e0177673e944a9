//! `whydenied import`: AWS CLI exports stored as the policies and facts diagnoses read.

use super::*;

#[derive(Debug, Args)]
pub(super) struct ImportArgs {
    /// The account, OU or root that the organization policies in these files apply to.
    #[arg(long, value_name = "ID")]
    pub(super) target: Option<String>,
    /// The resource whose policy these files hold, where the output does not say (bucket and key policies).
    #[arg(long, value_name = "ARN")]
    pub(super) resource: Option<String>,
    /// The account that owns that resource, where its ARN does not say (an S3 bucket's ARN has no account).
    #[arg(long, value_name = "ACCOUNT", value_parser = account_id)]
    pub(super) owner: Option<String>,
    /// Files or directories (read recursively) of JSON printed by the AWS CLI.
    #[arg(required = true, value_name = "FILE")]
    pub(super) files: Vec<PathBuf>,
}

/// Reads a JSON file, gzipped or not, within the import size limit.
pub(super) fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    Ok(whydenied::import::files::read_json(path)?)
}

/// Whether a file's name says it holds JSON (`.json`, `.json.gz`): such a file that does not
/// parse is an error even inside a directory; other files there are skipped.
pub(super) fn looks_like_json_name(p: &std::path::Path) -> bool {
    let n = p.to_string_lossy().to_ascii_lowercase();
    n.ends_with(".json") || n.ends_with(".json.gz")
}

/// A twelve-digit AWS account id.
pub(super) fn account_id(s: &str) -> std::result::Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a twelve-digit AWS account id"))
    }
}

pub(super) fn import(db: Option<PathBuf>, a: ImportArgs) -> Result<i32> {
    let path = db_path(db)?;
    let mut store = Store::open(&path)?;
    let opts = whydenied::import::Options {
        target: a.target.clone(),
        resource: a.resource.clone(),
        owner: a.owner.clone(),
    };
    let mut failed = 0;
    let planned = whydenied::import::files::plan(&a.files, &opts)?;
    for job in &planned {
        let f = &job.path;
        let name = out::escape(&f.display().to_string());
        let v = match read_json(f) {
            Ok(v) => v,
            Err(e)
                if !job.named
                    && e.downcast_ref::<whydenied::import::files::FileError>()
                        .is_some_and(|e| {
                            matches!(
                                e,
                                whydenied::import::files::FileError::NotJson { .. }
                                    | whydenied::import::files::FileError::NotUtf8 { .. }
                            )
                        })
                    && !looks_like_json_name(f) =>
            {
                println!("{name}: skipped: not a JSON file");
                continue;
            }
            Err(e) => {
                eprintln!("whydenied: {}", out::escape(&error_text(&e)));
                failed += 1;
                continue;
            }
        };
        match whydenied::import::recognise(&v, &job.opts) {
            Ok(imp) => {
                let c = store.import(&imp, &f.display().to_string())?;
                let mut parts = Vec::new();
                for (n, one, many) in [
                    (c.roles, "role", "roles"),
                    (c.users, "user", "users"),
                    (c.groups, "group", "groups"),
                    (c.managed_policies, "managed policy", "managed policies"),
                    (c.resource_policies, "resource policy", "resource policies"),
                    (c.functions, "function", "functions"),
                    (c.mappings, "event source mapping", "event source mappings"),
                    (
                        c.org_policies,
                        "organization policy",
                        "organization policies",
                    ),
                    (c.org_links, "organization link", "organization links"),
                    (c.user_pools, "user pool", "user pools"),
                    (c.encryption_keys, "encryption key", "encryption keys"),
                    (
                        c.http_api_items,
                        "HTTP API route or integration",
                        "HTTP API routes and integrations",
                    ),
                ] {
                    if n > 0 {
                        parts.push(count(n, one, many));
                    }
                }
                if parts.is_empty() {
                    parts.push("nothing".into());
                }
                println!("{name}: {}: stored {}", imp.format, parts.join(", "));
                for sk in &imp.skipped {
                    println!("{name}: skipped: {}", out::escape(sk));
                }
            }
            Err(whydenied::import::ImportError::Unrecognised(what)) if !job.named => {
                println!(
                    "{name}: skipped: not an export whydenied imports ({})",
                    out::escape(&what)
                );
            }
            Err(e @ whydenied::import::ImportError::NeedsResource(_)) if !job.named => {
                eprintln!(
                    "whydenied: {name}: {} (or name it in the directory's {})",
                    out::escape(&e.to_string()),
                    whydenied::import::files::MANIFEST
                );
                failed += 1;
            }
            Err(e) => {
                eprintln!("whydenied: {name}: {}", out::escape(&e.to_string()));
                failed += 1;
            }
        }
    }
    // Findings whose fix the imported policies now show applied are resolved.
    let rules = Rules::embedded()?;
    let after = pipeline::after_import(&mut store, &rules)?;
    if after.rediagnosed > 0 {
        println!(
            "{} diagnosed again with the imported policies",
            count(after.rediagnosed, "finding", "findings")
        );
    }
    if after.resolved > 0 {
        println!(
            "{} resolved: the imported policies now allow them",
            count(after.resolved, "finding", "findings")
        );
    }
    if after.reopened > 0 {
        println!(
            "{} open again: the imported policies no longer allow them",
            count(after.reopened, "finding", "findings")
        );
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

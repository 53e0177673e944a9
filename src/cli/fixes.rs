//! `report --fixes`: one role's identity-policy fixes merged, checked and printed.

use super::*;

/// `report --fixes --role R`: one policy for every identity-policy fix of the role, verified
/// against each finding it covers on the stored policies.
pub(super) fn merged_fixes(
    store: &Store,
    findings: &[whydenied::finding::Finding],
    output: Option<&std::path::Path>,
) -> Result<i32> {
    use whydenied::suggest::merged;
    let rules = Rules::embedded()?;
    let covered: Vec<&whydenied::finding::Finding> = findings
        .iter()
        .filter(|f| {
            f.fix.target == Target::IdentityPolicy
                && (f.fix.statement.is_some() || !f.fix.all_statements.is_empty())
        })
        .collect();
    if covered.is_empty() {
        bail!("no finding of that role has an identity-policy fix");
    }
    let mut stmts = Vec::new();
    for f in &covered {
        if f.fix.all_statements.is_empty() {
            stmts.extend(f.fix.statement.iter().cloned());
        } else {
            stmts.extend(f.fix.all_statements.iter().cloned());
        }
    }
    // The role's own inline policies: a policy of the same name is merged, not replaced.
    let role_arn = covered.first().and_then(|f| f.principal.clone());
    let existing = role_arn
        .as_deref()
        .and_then(|r| {
            whydenied::evaluate::gather::PolicySource::principal(store, r)
                .and_then(|p| p.inline.clone())
        })
        .unwrap_or_default();
    let (parts, notes) = merged::split(&stmts, &existing);
    let policy = std::sync::Arc::new(merged::as_policy(&parts)?);
    let mut verified = 0;
    for f in &covered {
        let (Some(principal), Some(action)) = (&f.principal, &f.action) else {
            eprintln!("{}: principal unknown, not verified", f.id);
            continue;
        };
        let resource = f.resource.as_deref().unwrap_or("*");
        let said = match merged::check(store, &rules, &policy, principal, action, resource) {
            merged::Check::NoPrincipal => continue,
            merged::Check::NotImported => {
                eprintln!(
                    "{}: {action}: the role's policies were never imported, not verified",
                    f.id
                );
                continue;
            }
            merged::Check::Allowed => {
                verified += 1;
                "allowed with the merged policy".to_string()
            }
            merged::Check::Still(d) => format!("still {d:?}").to_lowercase(),
        };
        eprintln!("{}: {action} on {}: {said}", f.id, out::escape(resource));
    }
    let role = role_arn
        .as_deref()
        .and_then(whydenied::policy::arn::role_name)
        .unwrap_or("ROLE");
    let account = role_arn
        .as_deref()
        .and_then(whydenied::policy::arn::Arn::parse)
        .map(|a| a.account.to_string())
        .unwrap_or_else(|| "ACCOUNT_ID".into());
    for n in &notes {
        eprintln!("note: {n}");
    }
    match output {
        Some(path) => {
            // The first document in FILE, the others beside it (FILE-2, FILE-3...).
            let mut files = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let f = if i == 0 {
                    path.to_path_buf()
                } else {
                    let mut name = path.as_os_str().to_owned();
                    name.push(format!("-{}", i + 1));
                    std::path::PathBuf::from(name)
                };
                std::fs::write(
                    &f,
                    format!("{}\n", serde_json::to_string_pretty(&p.document)?),
                )
                .with_context(|| format!("cannot write {}", f.display()))?;
                files.push(f.display().to_string());
            }
            for c in merged::commands(&parts, role, &account, &files) {
                println!("{c}");
            }
        }
        None => {
            for p in &parts {
                print(&format!("{}\n", serde_json::to_string_pretty(&p.document)?))?;
            }
        }
    }
    eprintln!(
        "{verified} of {} verified with the merged policy",
        count(covered.len() as u64, "finding", "findings")
    );
    Ok(0)
}

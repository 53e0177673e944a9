//! Correlation: the denial evaluated against the stored policies.

use super::*;

/// The cause a verdict shows.
///
/// An explicit deny is the first denying statement's kind. For an implicit deny a guard (SCP,
/// RCP, boundary, session, endpoint, trust) comes before the identity and resource sides; None
/// for an allow or an undecided verdict, where the message's cause stands.
fn cause_of_verdict(v: &Verdict) -> Option<Cause> {
    match v.decision {
        Decision::ExplicitDeny => v.deciding.first().map(|s| Cause::explicit_deny(s.kind)),
        Decision::ImplicitDeny => {
            // The most specific guard first: an organization or boundary gap explains a denial
            // even where the identity side also lacks the grant.
            let order = [
                PolicyKind::Scp,
                PolicyKind::Rcp,
                PolicyKind::PermissionsBoundary,
                PolicyKind::Session,
                PolicyKind::VpcEndpoint,
                PolicyKind::Trust,
                PolicyKind::Identity,
                PolicyKind::Resource,
            ];
            order
                .iter()
                .find(|k| v.missing_allow.contains(k))
                .map(|k| Cause::no_allow(*k))
        }
        Decision::Allow | Decision::Unknown => None,
    }
}

/// Names a statement for an explanation: its `Sid` (or index), its policy and the policy's kind.
pub fn describe_statement(s: &StatementRef) -> String {
    let which = match &s.sid {
        Some(sid) => format!("statement {sid:?} (#{})", s.index),
        None => format!("statement #{}", s.index),
    };
    format!("{which} of {} ({} policy)", s.policy, s.kind.as_str())
}

/// Who is judged for a diagnosis: the service for invoke permissions and trust, else the role.
/// The session is kept only when the log's caller is a session of that very role, so that a
/// resource policy naming the session ARN matches it.
fn caller_of(diag: &Diagnosis, d: &Denial) -> Option<(Caller, String)> {
    let principal = diag.principal.as_deref()?;
    let (mut caller, resource) = party(diag.kind, diag.cause, principal, diag.resource.as_deref())?;
    // The session that made the call, when the log shows it was of this role.
    if let Caller::Iam { session_arn, .. } = &mut caller {
        *session_arn = d
            .caller
            .clone()
            .filter(|c| c.contains(":assumed-role/") && d.caller_iam.as_deref() == Some(principal));
    }
    Some((caller, resource))
}

/// Every (action, resource) the checked party needs for this feature, the denied action first:
/// what the integration catalog lists, else the setup catalog's grants, else the one action.
fn needed(
    diag: &Diagnosis,
    need: &Need,
    rules: &Rules,
    action: &str,
    resource: &str,
) -> Vec<(String, String)> {
    let mut out = vec![(action.to_string(), resource.to_string())];
    let mut add = |a: &str, r: Option<String>| {
        if let Some(r) = r
            && !out
                .iter()
                .any(|(x, y)| x.eq_ignore_ascii_case(a) && *y == r)
        {
            out.push((a.to_string(), r));
        }
    };
    if !need.grants.is_empty() {
        for g in &need.grants {
            for a in &g.actions {
                add(a, g.resource.clone());
            }
        }
    } else if diag.kind == Kind::TriggerSetup
        && let Some(setup) = rules.setup_for_action(action)
    {
        let facts = need.grant_facts();
        for g in &setup.grants {
            let r = g.resource_for(&facts);
            for a in &g.actions {
                add(a, r.clone());
            }
        }
    }
    out
}

/// Evaluates the denial against the stored policies: policy state, explanation, the cause where
/// the message did not give one, and whether the fix would work.
///
/// Every action the feature needs is asked separately, the denied one first, and the finding
/// reports the first one still denied: a trigger that failed on one action and lacks another is
/// then fixed in one go. Without the principal's policies (or, for a service, the resource's) it
/// concludes nothing. An allow is propagation only when the policies were imported after the
/// denial; before it, what denied is not in the store, and the state is unknown.
pub(super) fn correlate(diag: &mut Diagnosis, d: &Denial, src: &dyn PolicySource, rules: &Rules) {
    let Some(action) = diag.action.clone() else {
        return;
    };
    let Some((caller, resource)) = caller_of(diag, d) else {
        diag.explanation
            .push("The principal is not known, so the stored policies were not consulted.".into());
        return;
    };
    let caller = gather::resolve_caller(src, caller);
    let given_owner = d
        .request
        .context
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("aws:ResourceAccount"))
        .map(|(_, v)| v.as_str());
    let hint = gather::OwnerHint {
        given: given_owner,
        logged: d.request.resource_account.as_deref(),
    };
    // Everything the party needs, the denied action first: a trigger that names one action
    // may lack another, and the finding is about the first one the stored policies deny.
    let asks = needed(diag, &diag.need, rules, &action, &resource);
    let mut answers = Vec::new();
    for (a, r) in &asks {
        let (set, gaps) = gather::gather_remembered(src, rules, &caller, a, r, hint);
        if gaps.principal_missing {
            if let Caller::Iam { arn, .. } = &caller {
                diag.explanation.push(format!(
                    "The policies of {arn} were never imported; the cause comes from the message alone."
                ));
            }
            return;
        }
        if matches!(caller, Caller::Service(_)) && set.resource.is_none() {
            diag.explanation.push(format!(
                "The policy of {r} was never imported; the cause comes from the message alone."
            ));
            return;
        }
        let known = gather::store_facts(src, &caller, &set);
        let via = via_service(d, a);
        let facts = Facts {
            via_service: via.as_deref(),
            given: &d.request.context,
            time: d.time,
            region: d.region.as_deref(),
            source_ip: d.source_ip.as_deref(),
            source_arn: diag.need.source_arn.as_deref(),
            source_account: diag.need.source_account.as_deref(),
            ..Facts::default()
        }
        .with_store(&known);
        let ctx = RequestContext::derive(&caller, r, &facts);
        let v = evaluate::evaluate(
            &Request {
                caller: caller.clone(),
                action: a,
                resource: r,
                context: &ctx,
            },
            &set,
        );
        answers.push((a.clone(), r.clone(), set, gaps, ctx, v));
    }
    if asks.len() > 1 {
        let denied: Vec<&str> = answers
            .iter()
            .filter(|x| x.5.decision != Decision::Allow)
            .map(|x| x.0.as_str())
            .collect();
        let allowed: Vec<&str> = answers
            .iter()
            .filter(|x| x.5.decision == Decision::Allow)
            .map(|x| x.0.as_str())
            .collect();
        if !denied.is_empty() && !allowed.is_empty() {
            diag.explanation.push(format!(
                "Of the {} actions this needs, the stored policies allow {} but not {}.",
                asks.len(),
                allowed.join(", "),
                denied.join(", ")
            ));
        }
    }
    // The first action still denied decides; when everything is allowed, the denied one.
    let pick = answers
        .iter()
        .position(|x| x.5.decision != Decision::Allow)
        .unwrap_or(0);
    if answers.len() <= pick {
        return;
    }
    let (action, resource, set, gaps, ctx, v) = answers.swap_remove(pick);
    if diag.action.as_deref() != Some(action.as_str()) {
        diag.action = Some(action.clone());
    }
    for m in &gaps.missing_policies {
        diag.explanation.push(format!(
            "{m} is attached, but its document was not imported."
        ));
    }
    let who = match &caller {
        Caller::Iam { arn, .. } => arn.clone(),
        Caller::Service(s) => s.clone(),
    };
    diag.policy_state = match v.decision {
        Decision::Allow => PolicyState::AllowedNow,
        Decision::ImplicitDeny | Decision::ExplicitDeny => PolicyState::Denied,
        Decision::Unknown => PolicyState::Unknown,
    };
    if let Some(x) = &v.cross_account
        && v.decision != Decision::Allow
    {
        let sides: Vec<&str> = x
            .denied_by
            .iter()
            .map(|s| match *s {
                "identity" => "the caller's side",
                _ => "the resource owner's side",
            })
            .collect();
        diag.explanation.push(format!(
            "The request crosses accounts ({} calls a resource of {}): both sides must allow, and {} did not.",
            x.principal_account,
            x.resource_account,
            sides.join(" and ")
        ));
    }
    match v.decision {
        Decision::ExplicitDeny => {
            for s in &v.deciding {
                diag.explanation.push(format!(
                    "The stored policies deny it: {} denies {action}.",
                    describe_statement(s)
                ));
            }
        }
        Decision::ImplicitDeny => {
            for k in &v.missing_allow {
                let line = match k {
                    PolicyKind::Identity => format!(
                        "{who} has {} identity {}{}; none allows {action} on {resource}.",
                        set.identity.len(),
                        if set.identity.len() == 1 {
                            "policy"
                        } else {
                            "policies"
                        },
                        policy_names(&set.identity)
                    ),
                    PolicyKind::PermissionsBoundary => format!(
                        "The permissions boundary {} does not allow {action}.",
                        set.boundary
                            .as_ref()
                            .map(|b| b.name.as_str())
                            .unwrap_or("?")
                    ),
                    PolicyKind::Scp => format!(
                        "No service control policy at one level of the organization allows {action}."
                    ),
                    PolicyKind::Rcp => {
                        format!("No resource control policy allows {action} on {resource}.")
                    }
                    PolicyKind::Session => format!("The session policy does not allow {action}."),
                    PolicyKind::VpcEndpoint => {
                        format!("The VPC endpoint policy does not allow {action}.")
                    }
                    PolicyKind::Resource => format!(
                        "The policy of {resource} has no statement that allows {who} to call {action}."
                    ),
                    PolicyKind::Trust => {
                        format!("The trust policy of {resource} does not allow {who}.")
                    }
                };
                diag.explanation.push(line);
            }
        }
        Decision::Allow => {
            let by: Vec<String> = v.deciding.iter().map(describe_statement).collect();
            diag.explanation.push(format!(
                "The stored policies allow {action} now ({}).",
                by.join("; ")
            ));
        }
        Decision::Unknown => diag.explanation.push(format!(
            "The stored policies cannot decide without {}, which the log does not show.",
            v.undecided_by()
        )),
    }
    // An allow proves nothing about a policy type the message blames that was never imported.
    let blamed = match &d.message.reason {
        Reason::Unstated => reason_of_cause(diag.cause),
        r => Some(r.clone()),
    };
    if v.decision == Decision::Allow
        && let Some(missing) = blamed
            .as_ref()
            .and_then(|r| blamed_but_not_imported(r, &set))
    {
        // `policy_state` stays `allowed_now`: it says what the stored policies decide today,
        // and `unknown` means the principal's were never imported.
        diag.explanation.push(format!(
            "The message blames {missing}, which was not imported (or cannot be), so the stored policies cannot confirm or refute it."
        ));
        return;
    }
    if v.decision == Decision::Allow {
        // The stored policies allow it now. Propagation (a grant too recent for IAM, stale
        // credentials) needs evidence that the grant came later: a snapshot taken after the
        // denial. A snapshot from before it that allows means something it does not hold denied.
        let later = match (src.imported_at(), d.time) {
            (Some(at), Some(t)) => at > t.as_millisecond(),
            _ => false,
        };
        const ELSEWHERE: &str = "what denied it is not among them: a session policy or VPC endpoint policy, a condition only the service knows, a policy of another party, or an import that missed a policy";
        if !later {
            diag.explanation.push(if d.time.is_none() {
                format!(
                    "The log gives no time, so whether they were imported after the denial (a grant too recent, or old credentials) cannot be told; if not, {ELSEWHERE}."
                )
            } else {
                format!("They were imported before this denial, so {ELSEWHERE}.")
            });
            return;
        }
        diag.explanation.push(
            "They were imported after the denial: the grant came later, or the caller still used old credentials."
                .into(),
        );
        diag.cause = Cause::Propagation;
        diag.remedy = Remedy::Propagation;
        return;
    }
    if let Some(derived) = cause_of_verdict(&v) {
        if matches!(
            diag.cause,
            Cause::Unknown | Cause::ExplicitDeny | Cause::OtherCondition
        ) {
            diag.cause = derived;
            diag.need.cause = derived;
        } else if derived != diag.cause {
            diag.explanation.push(format!(
                "The message points to {}, but the stored policies show {derived}; AWS names only one reason when several apply.",
                diag.cause
            ));
        }
    }
    let checked = |set: PolicySet, context: RequestContext| {
        Box::new(Checked {
            caller: caller.clone(),
            action: action.clone(),
            resource: resource.clone(),
            context,
            set,
            decision: v.decision,
        })
    };
    if v.decision == Decision::ExplicitDeny
        && let Some(deny) = v.deciding.first()
    {
        diag.remedy = Remedy::NarrowDeny {
            deny: deny.clone(),
            exempt_only: false,
            network_keys: Vec::new(),
            checked: checked(set, ctx),
        };
        return;
    }
    // AWS reported an explicit deny that the stored policies make depend on a condition key the
    // log does not give (aws:SourceVpce, aws:SourceIp...): the statement that denies unless that
    // key says otherwise is the one, and only an exemption of this principal fixes it whatever
    // the key's value.
    if v.decision != Decision::Allow
        && diag.cause.is_explicit_deny()
        && let Some(deny) = undecided_deny(&v, diag.cause)
    {
        diag.explanation.push(format!(
            "The stored policies deny it unless {} says otherwise, which the log does not give: {}.",
            v.undecided_by(),
            describe_statement(deny)
        ));
        let network: Vec<String> = v
            .missing_context_keys
            .iter()
            .filter(|k| {
                [
                    "aws:sourcevpce",
                    "aws:sourcevpc",
                    "aws:sourceip",
                    "aws:vpcsourceip",
                ]
                .contains(&k.to_ascii_lowercase().as_str())
            })
            .cloned()
            .collect();
        diag.remedy = Remedy::NarrowDeny {
            deny: deny.clone(),
            exempt_only: true,
            network_keys: network,
            checked: checked(set, ctx),
        };
        return;
    }
    // A trust or resource policy naming a unique id (AROA..., AIDA...) names a principal that
    // was deleted: IAM shows the id when the ARN it was saved with no longer exists.
    if v.decision != Decision::Allow
        && let Some(r) = &set.resource
    {
        let stale: Vec<&str> = r
            .policy
            .statements
            .iter()
            .filter_map(|st| st.principal.as_ref())
            .flat_map(|p| p.entries.iter())
            .map(|(_, v)| v.as_str())
            .filter(|v| is_unique_id(v))
            .collect();
        if !stale.is_empty() {
            diag.explanation.push(format!(
                "The {} of {} names {}: the unique id of a role or user that was deleted (and perhaps re-created under the same name, which gets a new id). Name the principal by its ARN again.",
                if r.kind == PolicyKind::Trust { "trust policy" } else { "policy" },
                r.name,
                stale.join(", ")
            ));
        }
    }
    // An Allow that names this principal and action but a condition of another value (the
    // SourceArn of another user pool, bucket or rule) is what the policy's author meant to
    // grant: say so, so the fix reads as a second such grant, not as a mystery.
    for m in &v.conditions_failed {
        diag.explanation.push(format!(
            "{} would allow it, but its condition on {} does not hold for this request.",
            describe_statement(&m.statement),
            m.keys.join(", ")
        ));
    }
    if !v.tag_conditions_failed.is_empty() {
        let tags = match &caller {
            Caller::Iam { arn, .. } => src.principal(arn).and_then(|p| p.tags.clone()),
            Caller::Service(_) => None,
        };
        diag.explanation
            .extend(super::abac::explain(&v, tags.as_deref()));
        if let (Some((key, value)), Caller::Iam { arn, .. }) =
            (super::abac::wanted_principal_tag(&v), &caller)
            && arn::Principal::parse(arn).is_some_and(|p| {
                matches!(
                    p.kind,
                    arn::PrincipalKind::Role
                        | arn::PrincipalKind::AssumedRole
                        | arn::PrincipalKind::User
                )
            })
        {
            diag.remedy = Remedy::PrincipalTag {
                principal: arn.clone(),
                key,
                value,
                checked: checked(set, ctx),
            };
            return;
        }
    }
    diag.remedy = Remedy::Grant {
        checked: Some(checked(set, ctx)),
    };
}

/// The undecided deny statement an explicit-deny cause points to: one of the policy kind the
/// message names, else the first.
fn undecided_deny(v: &Verdict, cause: Cause) -> Option<&StatementRef> {
    let kind = cause.policy_kind().filter(|_| cause.is_explicit_deny());
    v.undecided_denies
        .iter()
        .find(|d| Some(d.kind) == kind)
        .or_else(|| v.undecided_denies.first())
}

/// The reason a cause stands for, when the cause names a policy type (the integration catalog
/// states causes its texts do not spell out).
fn reason_of_cause(cause: Cause) -> Option<Reason> {
    let t = cause.policy_kind().filter(|k| *k != PolicyKind::Trust)?;
    if cause.is_explicit_deny() {
        Some(Reason::Explicit(t))
    } else if cause.is_missing_allow() {
        Some(Reason::Implicit(t))
    } else {
        None
    }
}

/// Whether the stored set holds the policy type a cause blames, or shows it does not apply
/// (the management account, a service-linked role, a boundary no longer attached): only then
/// can an allow from the stored policies say that AWS's stated reason is gone.
pub fn stated_policy_known(cause: Cause, set: &PolicySet) -> bool {
    let t = match reason_of_cause(cause) {
        Some(Reason::Implicit(t) | Reason::Explicit(t)) => t,
        _ => return true,
    };
    match t {
        PolicyKind::Identity => set.identity_known,
        PolicyKind::Resource | PolicyKind::Trust => set.resource.is_some(),
        PolicyKind::Scp => !set.scp_levels.is_empty() || set.scp_exempt.is_some(),
        PolicyKind::Rcp => !set.rcp_levels.is_empty() || set.rcp_exempt.is_some(),
        PolicyKind::PermissionsBoundary => set.boundary.is_some() || set.identity_known,
        PolicyKind::Session | PolicyKind::VpcEndpoint => false,
    }
}

/// The policy type a message blames, when nothing of that type is in the stored set.
fn blamed_but_not_imported(reason: &Reason, set: &PolicySet) -> Option<&'static str> {
    let t = match reason {
        Reason::Implicit(t) | Reason::Explicit(t) => *t,
        _ => return None,
    };
    let known = match t {
        PolicyKind::Identity => set.identity_known,
        PolicyKind::Resource | PolicyKind::Trust => set.resource.is_some(),
        PolicyKind::Scp => !set.scp_levels.is_empty(),
        PolicyKind::Rcp => !set.rcp_levels.is_empty(),
        PolicyKind::PermissionsBoundary => set.boundary.is_some(),
        PolicyKind::Session | PolicyKind::VpcEndpoint => false,
    };
    (!known).then_some(match t {
        PolicyKind::Identity => "an identity-based policy",
        PolicyKind::Resource => "a resource-based policy",
        PolicyKind::Trust => "a role trust policy",
        PolicyKind::Scp => "a service control policy",
        PolicyKind::Rcp => "a resource control policy",
        PolicyKind::PermissionsBoundary => "a permissions boundary",
        PolicyKind::Session => "a session policy",
        PolicyKind::VpcEndpoint => "a VPC endpoint policy",
    })
}

/// An IAM unique id as a policy shows it for a deleted principal (`AROA...` for a role, `AIDA...`
/// for a user).
fn is_unique_id(v: &str) -> bool {
    (v.starts_with("AROA") || v.starts_with("AIDA"))
        && v.len() >= 16
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The short names of a principal's policies, for a sentence: ` (a, b, c)`, at most four named
/// (an inline policy by its name, a managed one by the last part of its ARN).
fn policy_names(policies: &[NamedPolicy]) -> String {
    if policies.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = policies
        .iter()
        .map(|p| match p.name.rsplit_once('#') {
            Some((_, inline)) => inline,
            None => p.name.rsplit('/').next().unwrap_or(&p.name),
        })
        .collect();
    let shown = names.iter().take(4).copied().collect::<Vec<_>>().join(", ");
    match names.len() {
        n if n > 4 => format!(" ({shown} and {} more)", n - 4),
        _ => format!(" ({shown})"),
    }
}

/// `kms:ViaService` of a KMS request a service made with the caller's credentials: the service
/// that logged `invokedBy`, or the service whose API failed with KMS's error (DynamoDB's
/// PutItem, S3's GetObject, Lambda decrypting an environment), in the record's region.
fn via_service(d: &Denial, action: &str) -> Option<String> {
    if !action.to_ascii_lowercase().starts_with("kms:") {
        return None;
    }
    let service = d
        .request
        .invoked_by
        .as_deref()
        .or(d.event_source.as_deref())
        .filter(|s| *s != "kms.amazonaws.com")?;
    let prefix = service.strip_suffix(".amazonaws.com")?;
    Some(format!("{prefix}.{}.amazonaws.com", d.region.as_deref()?))
}

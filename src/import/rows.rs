//! Each AWS CLI output's objects made into snapshot rows: roles and users with their policies,
//! policy versions, functions, mappings, user pools, organization policies and resource
//! policies, each in whichever shape the CLI prints it.

use super::*;

/// A role's row, from `get-role` (`full` false) or authorization details (`full`). `get-role`
/// prints no policies, so its row leaves the attached and inline lists unknown and the stored
/// ones stay; a missing `PermissionsBoundary` means none in both outputs. A trust policy that
/// does not decode fails the row with the reason.
pub(super) fn role_row(r: &Value, full: bool) -> Result<PrincipalRow, ImportError> {
    let arn = s(r, "Arn").unwrap_or_default();
    let name = s(r, "RoleName").unwrap_or_default();
    let trust = match r.get("AssumeRolePolicyDocument") {
        Some(t) => Some(doc(t, || format!("trust policy of {arn}"))?),
        None => None,
    };
    let mut row = PrincipalRow {
        account: account_of(&arn),
        kind: "role",
        name,
        path: s(r, "Path").unwrap_or_else(|| "/".into()),
        id: s(r, "RoleId"),
        trust,
        boundary: Some(
            r.get("PermissionsBoundary")
                .and_then(|b| s(b, "PermissionsBoundaryArn")),
        ),
        tags: tags(r),
        arn,
        ..Default::default()
    };
    if full {
        row.attached = Some(attached(r));
        row.inline = Some(inline(r, "RolePolicyList", &row.arn)?);
    }
    Ok(row)
}

/// The ARNs of `AttachedManagedPolicies`: documents are looked up by ARN, the names are not needed.
pub(super) fn attached(v: &Value) -> Vec<String> {
    list(v, "AttachedManagedPolicies")
        .into_iter()
        .filter_map(|p| s(p, "PolicyArn"))
        .collect()
}

/// The inline policies under `key` (`RolePolicyList`, `UserPolicyList`, `GroupPolicyList`), each
/// decoded from whichever encoding the CLI printed. One that does not decode fails them all, so
/// that a principal is never judged on part of its policies.
pub(super) fn inline(
    v: &Value,
    key: &str,
    owner: &str,
) -> Result<Vec<(String, Value)>, ImportError> {
    let mut out = Vec::new();
    for p in list(v, key) {
        let name = s(p, "PolicyName").unwrap_or_default();
        let d = doc(p.get("PolicyDocument").unwrap_or(&Value::Null), || {
            format!("inline policy {name} of {owner}")
        })?;
        out.push((name, d));
    }
    Ok(out)
}

/// `aws iam get-account-authorization-details`: every role, user, group and managed policy. A
/// principal or policy that does not decode is skipped with the reason; the rest is imported.
/// A managed policy's document is its default version (the first listed, should none be
/// flagged); its other versions are kept apart, since they grant nothing.
pub(super) fn authorization_details(v: &Value) -> Result<Imported, ImportError> {
    let mut out = Imported {
        format: "aws iam get-account-authorization-details",
        ..Default::default()
    };
    for r in list(v, "RoleDetailList") {
        match role_row(r, true) {
            Ok(row) => out.facts.push(Fact::Principal(row)),
            Err(e) => out.skipped.push(e.to_string()),
        }
    }
    for u in list(v, "UserDetailList") {
        let arn = s(u, "Arn").unwrap_or_default();
        match inline(u, "UserPolicyList", &arn) {
            Ok(inl) => out.facts.push(Fact::Principal(PrincipalRow {
                account: account_of(&arn),
                kind: "user",
                name: s(u, "UserName").unwrap_or_default(),
                path: s(u, "Path").unwrap_or_else(|| "/".into()),
                id: s(u, "UserId"),
                trust: None,
                boundary: Some(
                    u.get("PermissionsBoundary")
                        .and_then(|b| s(b, "PermissionsBoundaryArn")),
                ),
                tags: tags(u),
                groups: Some(
                    u.get("GroupList")
                        .and_then(Value::as_array)
                        .map(|g| {
                            g.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                attached: Some(attached(u)),
                inline: Some(inl),
                arn,
            })),
            Err(e) => out.skipped.push(e.to_string()),
        }
    }
    for g in list(v, "GroupDetailList") {
        let arn = s(g, "Arn").unwrap_or_default();
        match inline(g, "GroupPolicyList", &arn) {
            Ok(inl) => out.facts.push(Fact::Principal(PrincipalRow {
                account: account_of(&arn),
                kind: "group",
                name: s(g, "GroupName").unwrap_or_default(),
                path: s(g, "Path").unwrap_or_else(|| "/".into()),
                id: s(g, "GroupId"),
                attached: Some(attached(g)),
                inline: Some(inl),
                arn,
                ..Default::default()
            })),
            Err(e) => out.skipped.push(e.to_string()),
        }
    }
    for p in list(v, "Policies") {
        let arn = s(p, "Arn").unwrap_or_default();
        let versions = list(p, "PolicyVersionList");
        let default = versions
            .iter()
            .find(|x| x.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true))
            .or_else(|| versions.first());
        match default {
            Some(ver) => match doc(ver.get("Document").unwrap_or(&Value::Null), || {
                format!("managed policy {arn}")
            }) {
                Ok(d) => {
                    let default_id = s(ver, "VersionId");
                    let others = versions
                        .iter()
                        .filter(|x| s(x, "VersionId") != default_id)
                        .filter_map(|x| {
                            let id = s(x, "VersionId")?;
                            let d = doc(x.get("Document").unwrap_or(&Value::Null), || {
                                format!("managed policy {arn} version {id}")
                            })
                            .ok()?;
                            Some((id, d))
                        })
                        .collect();
                    out.facts.push(Fact::Managed(ManagedRow {
                        name: s(p, "PolicyName").unwrap_or_default(),
                        version: default_id,
                        document: d,
                        other_versions: Some(others),
                        arn,
                    }))
                }
                Err(e) => out.skipped.push(e.to_string()),
            },
            None => out.skipped.push(format!(
                "managed policy {arn}: no policy version in the export"
            )),
        }
    }
    Ok(out)
}

/// `aws iam get-policy-version`, which does not name its policy: `--resource` must. The default
/// version becomes the policy's document; any other is stored apart.
pub(super) fn policy_version(pv: &Value, opts: &Options) -> Result<Imported, ImportError> {
    let arn = opts
        .resource
        .clone()
        .ok_or(ImportError::NeedsResource("aws iam get-policy-version"))?;
    let d = doc(pv.get("Document").unwrap_or(&Value::Null), || {
        format!("policy version of {arn}")
    })?;
    let name = arn.rsplit('/').next().unwrap_or(&arn).to_string();
    let mut out = Imported {
        format: "aws iam get-policy-version",
        ..Default::default()
    };
    if pv.get("IsDefaultVersion").and_then(Value::as_bool) == Some(false) {
        // Not what the policy grants today; kept to tell when making it the default would fix
        // a denial.
        match s(pv, "VersionId") {
            Some(version) => out.facts.push(Fact::ManagedVersion {
                arn,
                version,
                document: d,
            }),
            None => out
                .skipped
                .push(format!("{arn}: a non-default version without a VersionId")),
        }
        return Ok(out);
    }
    out.facts.push(Fact::Managed(ManagedRow {
        arn,
        name,
        version: s(pv, "VersionId"),
        document: d,
        other_versions: None,
    }));
    Ok(out)
}

/// A user pool's Lambda triggers from `describe-user-pool`'s `LambdaConfig`: the plain ones
/// (`PreSignUp: <function ARN>`) and the versioned ones (`CustomEmailSender: {LambdaArn}`).
pub(super) fn user_pool_row(pool: &Value) -> UserPoolRow {
    let mut triggers = Vec::new();
    if let Some(Value::Object(config)) = pool.get("LambdaConfig") {
        for (name, v) in config {
            let arn = v
                .as_str()
                .or_else(|| v.get("LambdaArn").and_then(Value::as_str));
            if let Some(arn) = arn.filter(|a| a.contains(":lambda:")) {
                triggers.push((name.clone(), arn.to_string()));
            }
        }
    }
    UserPoolRow {
        id: s(pool, "Id").unwrap_or_default(),
        arn: s(pool, "Arn"),
        triggers,
    }
}

/// The API id `--resource` names: `arn:aws:apigateway:REGION::/apis/ID` (the ARN AWS gives an
/// HTTP API), or the bare id.
fn api_id_of(resource: &str) -> Option<String> {
    let id = match resource.split_once("/apis/") {
        Some((_, rest)) => rest.split('/').next()?,
        None if !resource.contains(':') && !resource.contains('/') => resource,
        None => return None,
    };
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| id.to_string())
}

/// `aws apigatewayv2 get-routes` / `get-integrations` (or one route or integration): the
/// output does not name its API, so `--resource` must.
pub(super) fn http_api(v: &Value, opts: &Options) -> Result<Imported, ImportError> {
    let items: Vec<&Value> = match v.get("Items") {
        Some(_) => list(v, "Items"),
        None => vec![v],
    };
    let routes = items.iter().all(|i| i.get("RouteKey").is_some());
    let format = if routes {
        "aws apigatewayv2 get-routes"
    } else {
        "aws apigatewayv2 get-integrations"
    };
    let api_id = opts
        .resource
        .as_deref()
        .and_then(api_id_of)
        .ok_or(ImportError::NeedsResource(
            "aws apigatewayv2 get-routes/get-integrations (--resource arn:aws:apigateway:REGION::/apis/API_ID)",
        ))?;
    let mut out = Imported {
        format,
        ..Default::default()
    };
    for i in items {
        let row = if routes {
            let Some(route_key) = s(i, "RouteKey") else {
                continue;
            };
            HttpApiRow::Route {
                api_id: api_id.clone(),
                route_key,
                target: s(i, "Target"),
            }
        } else {
            let Some(integration_id) = s(i, "IntegrationId") else {
                continue;
            };
            HttpApiRow::Integration {
                api_id: api_id.clone(),
                integration_id,
                uri: s(i, "IntegrationUri"),
                credentials: s(i, "CredentialsArn"),
            }
        };
        out.facts.push(Fact::HttpApi(row));
    }
    Ok(out)
}

/// A table's customer managed key from `describe-table`'s `SSEDescription` (None for an AWS
/// owned or AWS managed key that is not a key ARN, or encryption still being disabled).
pub(super) fn table_key(table: &Value) -> Option<EncryptionKeyRow> {
    let key = table
        .get("SSEDescription")
        .and_then(|d| s(d, "KMSMasterKeyArn"))
        .filter(|k| k.contains(":kms:") && k.contains(":key/"))?;
    Some(EncryptionKeyRow {
        resource: s(table, "TableArn")?,
        key,
    })
}

/// A secret's key from `describe-secret`'s `KmsKeyId`, when it is a key ARN (an alias or a
/// bare key id cannot be matched to the key KMS's records name). None for `aws/secretsmanager`.
pub(super) fn secret_key(arn: &str, v: &Value) -> Option<EncryptionKeyRow> {
    let key = s(v, "KmsKeyId").filter(|k| k.starts_with("arn:") && k.contains(":key/"))?;
    Some(EncryptionKeyRow {
        resource: crate::policy::arn::secret_base(arn, "", "")?,
        key,
    })
}

/// A function's configuration, as `get-function-configuration`, `get-function`'s `Configuration`
/// and `list-functions` print it. A field the output leaves out stays empty rather than failing
/// the row: AWS omits the configuration a function does not use.
pub(super) fn function_row(f: &Value) -> FunctionRow {
    FunctionRow {
        name: s(f, "FunctionName").unwrap_or_default(),
        arn: s(f, "FunctionArn").unwrap_or_default(),
        role: s(f, "Role"),
        kms_key: s(f, "KMSKeyArn"),
        vpc_subnets: f
            .get("VpcConfig")
            .and_then(|c| c.get("SubnetIds"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        tracing: f.get("TracingConfig").and_then(|t| s(t, "Mode")),
        dead_letter: f.get("DeadLetterConfig").and_then(|d| s(d, "TargetArn")),
        log_group: f.get("LoggingConfig").and_then(|l| s(l, "LogGroup")),
        file_systems: list(f, "FileSystemConfigs")
            .into_iter()
            .filter_map(|c| s(c, "Arn"))
            .collect(),
    }
}

/// An event source mapping, as `list-event-source-mappings` and `get-event-source-mapping` print
/// it: what explains a mapping's failure (its source, state, last result) and the on-failure
/// destination the execution role must be allowed to send to.
pub(super) fn mapping_row(m: &Value) -> MappingRow {
    MappingRow {
        uuid: s(m, "UUID").unwrap_or_default(),
        function_arn: s(m, "FunctionArn"),
        source_arn: s(m, "EventSourceArn"),
        state: s(m, "State"),
        last_result: s(m, "LastProcessingResult"),
        kms_key: s(m, "KMSKeyArn"),
        on_failure: m
            .get("DestinationConfig")
            .and_then(|d| d.get("OnFailure"))
            .and_then(|o| s(o, "Destination")),
    }
}

/// `scp` or `rcp` from a policy summary's `Type`: anything but `RESOURCE_CONTROL_POLICY` is taken
/// as a service control policy.
pub(super) fn org_kind(t: &str) -> &'static str {
    if t.eq_ignore_ascii_case("RESOURCE_CONTROL_POLICY") {
        "rcp"
    } else {
        "scp"
    }
}

/// `aws organizations describe-policy`: an SCP or RCP with its document. The output does not
/// say where the policy is attached, so `--target` does; without it the policy is stored but
/// applies to nothing, and a skipped note says so.
pub(super) fn org_policy(p: &Value, opts: &Options) -> Result<Imported, ImportError> {
    let summary = p.get("PolicySummary").unwrap_or(&Value::Null);
    let id = s(summary, "Id").unwrap_or_default();
    let kind = org_kind(&s(summary, "Type").unwrap_or_default());
    let content = p.get("Content").unwrap_or(&Value::Null);
    let d = doc(content, || format!("organization policy {id}"))?;
    let mut out = Imported {
        format: "aws organizations describe-policy",
        ..Default::default()
    };
    out.facts.push(Fact::OrgPolicy(OrgPolicyRow {
        id: id.clone(),
        arn: s(summary, "Arn"),
        name: s(summary, "Name"),
        kind,
        document: Some(d),
    }));
    match &opts.target {
        Some(t) => out.facts.push(Fact::OrgTarget {
            policy_id: id,
            target: t.clone(),
        }),
        None => out.skipped.push(format!(
            "{id}: stored, but it applies to nothing until imported with --target ACCOUNT|OU|ROOT"
        )),
    }
    Ok(out)
}

/// `aws organizations list-policies-for-target`: the policies attached to `--target`, which the
/// output does not name. It holds only summaries: a policy whose document was never imported
/// (`describe-policy`) is known to be attached but cannot be evaluated.
pub(super) fn policies_for_target(v: &Value, opts: &Options) -> Result<Imported, ImportError> {
    let target = opts.target.clone().ok_or(ImportError::NeedsResource(
        "aws organizations list-policies-for-target (give the target with --target ID)",
    ))?;
    let mut out = Imported {
        format: "aws organizations list-policies-for-target",
        ..Default::default()
    };
    for p in list(v, "Policies") {
        let Some(id) = s(p, "Id") else { continue };
        out.facts.push(Fact::OrgPolicy(OrgPolicyRow {
            id: id.clone(),
            arn: s(p, "Arn"),
            name: s(p, "Name"),
            kind: org_kind(&s(p, "Type").unwrap_or_default()),
            document: None,
        }));
        out.facts.push(Fact::OrgTarget {
            policy_id: id,
            target: target.clone(),
        });
    }
    Ok(out)
}

/// `aws sqs get-queue-attributes` or `aws sns get-topic-attributes`: the `Policy` attribute, a
/// JSON string. The resource is `--resource`, else the queue's or topic's own ARN when the output
/// includes it (`QueueArn` must be asked for), else the one resource the statements name.
pub(super) fn attribute_policy(attrs: &Value, opts: &Options) -> Result<Imported, ImportError> {
    let (format, service, own) = if let Some(q) = s(attrs, "QueueArn") {
        ("aws sqs get-queue-attributes", "sqs", Some(q))
    } else if let Some(t) = s(attrs, "TopicArn") {
        ("aws sns get-topic-attributes", "sns", Some(t))
    } else {
        (
            "aws sqs get-queue-attributes / aws sns get-topic-attributes",
            "",
            None,
        )
    };
    let Some(p) = attrs.get("Policy") else {
        return Ok(Imported {
            format,
            facts: Vec::new(),
            skipped: vec!["the attributes hold no Policy".into()],
        });
    };
    let d = doc(p, || format.to_string())?;
    let resource = opts
        .resource
        .clone()
        .or(own)
        .or_else(|| single_resource(&d))
        .ok_or(ImportError::NeedsResource("aws sqs get-queue-attributes"))?;
    let service = if service.is_empty() {
        Arn::parse(&resource)
            .map(|a| a.service.to_string())
            .unwrap_or_default()
    } else {
        service.to_string()
    };
    Ok(Imported {
        format,
        facts: vec![Fact::ResourcePolicy(ResourcePolicyRow {
            account: owner(&resource, opts),
            resource_arn: resource,
            service,
            document: d,
        })],
        skipped: Vec::new(),
    })
}

/// The one resource every statement names (a function policy's function, a queue...).
pub(super) fn single_resource(d: &Value) -> Option<String> {
    let p = Policy::from_document(d).ok()?;
    let mut found: Option<String> = None;
    for st in &p.statements {
        for r in st.resource.iter().flat_map(|m| m.patterns.iter()) {
            let base = base_resource(r)?;
            match &found {
                None => found = Some(base),
                Some(f) if *f == base => {}
                Some(_) => return None,
            }
        }
    }
    found
}

/// The resource a policy belongs to, from a statement resource: a bucket for `bucket/*`, the
/// function for a qualified function ARN.
pub(super) fn base_resource(r: &str) -> Option<String> {
    let a = Arn::parse(r)?;
    match a.service {
        "s3" => {
            let bucket = a.resource.split('/').next()?;
            (!bucket.contains('*')).then(|| format!("arn:{}:s3:::{bucket}", a.partition))
        }
        "lambda" => {
            let name = arn::function_name(r)?;
            Some(format!(
                "arn:{}:lambda:{}:{}:function:{name}",
                a.partition, a.region, a.account
            ))
        }
        _ => (!r.contains('*')).then(|| r.to_string()),
    }
}

/// A bare `{"Policy": ...}`, which `lambda get-policy`, `s3api get-bucket-policy` and
/// `kms get-key-policy` all print, told apart by the resource's service. A key policy's statements
/// name `*`, so a key needs `--resource`, as does a bucket policy that names several buckets;
/// `get-key-policy` also prints `PolicyName`, which lets the error name the right command.
pub(super) fn resource_policy(
    p: &Value,
    whole: &Value,
    opts: &Options,
) -> Result<Imported, ImportError> {
    let d = doc(p, || "Policy".to_string())?;
    let resource = opts.resource.clone().or_else(|| single_resource(&d));
    let Some(resource) = resource else {
        // A key policy names "*" as its resource; so can a bucket policy for all its objects.
        let what = if s(whole, "PolicyName").is_some() {
            "aws kms get-key-policy"
        } else {
            "aws s3api get-bucket-policy / aws kms get-key-policy"
        };
        return Err(ImportError::NeedsResource(what));
    };
    let service = Arn::parse(&resource)
        .map(|a| a.service.to_string())
        .unwrap_or_default();
    let format = match service.as_str() {
        "lambda" => "aws lambda get-policy",
        "s3" => "aws s3api get-bucket-policy",
        "kms" => "aws kms get-key-policy",
        _ => "a resource policy",
    };
    Ok(Imported {
        format,
        facts: vec![Fact::ResourcePolicy(ResourcePolicyRow {
            account: owner(&resource, opts),
            resource_arn: resource,
            service,
            document: d,
        })],
        skipped: Vec::new(),
    })
}

//! ARNs and principals: splitting, resolving sessions to roles, telling a function's session.

/// An ARN split into its six fields. Borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// The partition: `aws`, `aws-cn`, `aws-us-gov`...
    pub partition: &'a str,
    /// The service namespace (`s3`, `iam`, `lambda`).
    pub service: &'a str,
    /// The region; empty for global services (IAM, S3 buckets).
    pub region: &'a str,
    /// The account id; empty where the ARN carries none (an S3 bucket or object).
    pub account: &'a str,
    /// Everything after the fifth colon (`role/path/name`, `function:name:alias`), colons included.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `arn:partition:service:region:account:resource`; None when it is not an ARN.
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut it = s.splitn(6, ':');
        if it.next()? != "arn" {
            return None;
        }
        let partition = it.next()?;
        let service = it.next()?;
        let region = it.next()?;
        let account = it.next()?;
        let resource = it.next()?;
        if partition.is_empty() || service.is_empty() {
            return None;
        }
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// An IAM principal as written in a log: a user, a role, an assumed-role session, or other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    /// The ARN's partition (`aws`...).
    pub partition: &'a str,
    /// The account the principal belongs to.
    pub account: &'a str,
    /// Role, user, session, federated user, root, or something else.
    pub kind: PrincipalKind,
    /// Role or user name (without path), or the whole resource part for other kinds.
    pub name: &'a str,
    /// Path of an IAM role or user (`/service-role/`), `/` when none.
    pub path: &'a str,
    /// Session name of an assumed role.
    pub session: Option<&'a str>,
}

/// What kind of principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An IAM role (`role/<path>/<name>`).
    Role,
    /// An IAM user (`user/<path>/<name>`).
    User,
    /// An STS session of a role (`assumed-role/<role>/<session>`), as a Lambda function calls AWS.
    AssumedRole,
    /// An STS federated user (`federated-user/<name>`, from `GetFederationToken`).
    FederatedUser,
    /// The account's root user (`arn:aws:iam::<account>:root`).
    Root,
    /// Any other resource; not a principal whose policies can be looked up.
    Other,
}

impl<'a> Principal<'a> {
    /// Parses an IAM or STS principal ARN.
    pub fn parse(s: &'a str) -> Option<Principal<'a>> {
        let a = Arn::parse(s)?;
        let (kind, rest) = if let Some(r) = a.resource.strip_prefix("assumed-role/") {
            (PrincipalKind::AssumedRole, r)
        } else if let Some(r) = a.resource.strip_prefix("role/") {
            (PrincipalKind::Role, r)
        } else if let Some(r) = a.resource.strip_prefix("user/") {
            (PrincipalKind::User, r)
        } else if let Some(r) = a.resource.strip_prefix("federated-user/") {
            (PrincipalKind::FederatedUser, r)
        } else if a.resource == "root" {
            (PrincipalKind::Root, "root")
        } else {
            (PrincipalKind::Other, a.resource)
        };
        let (name, path, session) = match kind {
            PrincipalKind::AssumedRole => {
                // assumed-role/<role>/<session>; the role's path is not in session ARNs.
                let (role, session) = match rest.split_once('/') {
                    Some((r, s)) => (r, Some(s)),
                    None => (rest, None),
                };
                (role, "/", session)
            }
            PrincipalKind::Role | PrincipalKind::User => match rest.rfind('/') {
                Some(i) => {
                    // `role/a/b/name`: the path is `/a/b/`, the slash before `a` included.
                    let pre = a.resource.len() - rest.len();
                    let path = a
                        .resource
                        .get(pre.saturating_sub(1)..pre + i + 1)
                        .unwrap_or("/");
                    (rest.get(i + 1..).unwrap_or(rest), path, None)
                }
                None => (rest, "/", None),
            },
            _ => (rest, "/", None),
        };
        Some(Principal {
            partition: a.partition,
            account: a.account,
            kind,
            name,
            path,
            session,
        })
    }

    /// The IAM ARN whose policies apply: an assumed-role session resolves to its role.
    pub fn iam_arn(&self) -> String {
        match self.kind {
            PrincipalKind::AssumedRole => {
                format!(
                    "arn:{}:iam::{}:role/{}",
                    self.partition, self.account, self.name
                )
            }
            PrincipalKind::Role => {
                format!(
                    "arn:{}:iam::{}:role{}{}",
                    self.partition, self.account, self.path, self.name
                )
            }
            PrincipalKind::User => {
                format!(
                    "arn:{}:iam::{}:user{}{}",
                    self.partition, self.account, self.path, self.name
                )
            }
            PrincipalKind::Root => format!("arn:{}:iam::{}:root", self.partition, self.account),
            PrincipalKind::FederatedUser => format!(
                "arn:{}:sts::{}:federated-user/{}",
                self.partition, self.account, self.name
            ),
            PrincipalKind::Other => {
                format!("arn:{}:sts::{}:{}", self.partition, self.account, self.name)
            }
        }
    }
}

/// Whether a session name can be a Lambda function's: functions run with the session named after
/// them; SDK defaults, EC2 instance ids, user names with `@` or `.`, and Lambda's own pollers
/// (`awslambda_*`) are not functions.
pub fn looks_like_function_session(session: &str) -> bool {
    if session.is_empty() || session.len() > 64 {
        return false;
    }
    if !session
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return false;
    }
    if session.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let lower = session.to_ascii_lowercase();
    const NOT: [&str; 8] = [
        "awslambda_",
        "aws-go-sdk-",
        "botocore-session-",
        "aws-sdk-",
        "boto3-",
        "terraform-",
        "cdk-",
        "awscli",
    ];
    if NOT.iter().any(|p| lower.starts_with(p)) {
        return false;
    }
    // EC2 instance ids: i- followed by 8 or 17 hex digits.
    if let Some(hex) = lower.strip_prefix("i-")
        && (hex.len() == 8 || hex.len() == 17)
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return false;
    }
    true
}

/// A function name from a name, partial ARN (`123456789012:function:f`) or ARN, without a
/// version or alias qualifier.
pub fn function_name(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let name = match s.find("function:") {
        Some(i) => {
            let rest = s.get(i + "function:".len()..)?;
            rest.split(':').next()?
        }
        // An ARN that is not a function's names no function.
        None if s.starts_with("arn:") => return None,
        None => s.split(':').next()?,
    };
    (!name.is_empty()).then(|| name.to_string())
}

/// The role name (without path) of a role ARN.
pub fn role_name(role_arn: &str) -> Option<&str> {
    let a = Arn::parse(role_arn)?;
    let rest = a.resource.strip_prefix("role/")?;
    rest.rsplit('/').next()
}

/// The partition a region belongs to (`cn-north-1` is in `aws-cn`), for ARNs built from a
/// name and a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// A DynamoDB table's ARN from the `TableName` a request or an encryption context gives (a
/// name, or already the table's ARN).
pub fn table_arn(name_or_arn: &str, region: &str, account: &str) -> Option<String> {
    if name_or_arn.starts_with("arn:") {
        return Arn::parse(name_or_arn)
            .filter(|a| a.service == "dynamodb" && a.resource.starts_with("table/"))
            .map(|_| name_or_arn.to_string());
    }
    (!name_or_arn.is_empty() && !region.is_empty() && !account.is_empty()).then(|| {
        let p = partition(region);
        format!("arn:{p}:dynamodb:{region}:{account}:table/{name_or_arn}")
    })
}

/// A Secrets Manager secret's ARN without the `-` and six random characters AWS appends to
/// its name, from a secret id (a name, or a partial or complete ARN): the form a request's
/// `SecretId` and a KMS encryption context's `SecretARN` both reduce to, whichever the caller
/// used. A name is taken as written (it has no suffix).
pub fn secret_base(id: &str, region: &str, account: &str) -> Option<String> {
    if id.starts_with("arn:") {
        let a = Arn::parse(id).filter(|a| a.service == "secretsmanager")?;
        a.resource.strip_prefix("secret:")?;
        let cut = id
            .rsplit_once('-')
            .filter(|(_, s)| s.len() == 6 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map_or(id, |(head, _)| head);
        return Some(cut.to_string());
    }
    (!id.is_empty() && !region.is_empty() && !account.is_empty()).then(|| {
        let p = partition(region);
        format!("arn:{p}:secretsmanager:{region}:{account}:secret:{id}")
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    #[test]
    fn principals_resolve() {
        let p = Principal::parse("arn:aws:sts::111122223333:assumed-role/orders-role/orders-fn")
            .unwrap();
        assert_eq!(p.kind, PrincipalKind::AssumedRole);
        assert_eq!(p.session, Some("orders-fn"));
        assert_eq!(p.iam_arn(), "arn:aws:iam::111122223333:role/orders-role");
        let p = Principal::parse("arn:aws:iam::111122223333:role/service-role/x/my-role").unwrap();
        assert_eq!(p.name, "my-role");
        assert_eq!(p.path, "/service-role/x/");
        assert_eq!(
            p.iam_arn(),
            "arn:aws:iam::111122223333:role/service-role/x/my-role"
        );
        let p = Principal::parse("arn:aws-cn:iam::111122223333:user/alice").unwrap();
        assert_eq!(p.iam_arn(), "arn:aws-cn:iam::111122223333:user/alice");
        assert!(Principal::parse("anonymous").is_none());
    }

    #[test]
    fn function_sessions() {
        assert!(looks_like_function_session("orders-fn"));
        assert!(looks_like_function_session("process_media"));
        assert!(!looks_like_function_session(
            "aws-go-sdk-1722587398902687000"
        ));
        assert!(!looks_like_function_session("1631196079303620000"));
        assert!(!looks_like_function_session("i-0123456789abcdef0"));
        assert!(!looks_like_function_session("alice@example.com"));
        assert!(!looks_like_function_session("awslambda_123_456"));
    }

    #[test]
    fn function_names() {
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:f:PROD").unwrap(),
            "f"
        );
        assert_eq!(function_name("1:function:f").unwrap(), "f");
        assert_eq!(function_name("f").unwrap(), "f");
        assert_eq!(role_name("arn:aws:iam::1:role/a/b/r").unwrap(), "r");
    }

    #[test]
    fn tables_and_secrets_from_their_names() {
        assert_eq!(
            table_arn("Books", "cn-north-1", "1").unwrap(),
            "arn:aws-cn:dynamodb:cn-north-1:1:table/Books"
        );
        let t = "arn:aws:dynamodb:us-east-1:1:table/Books";
        assert_eq!(table_arn(t, "eu-west-1", "2").unwrap(), t);
        assert!(table_arn("arn:aws:s3:::b", "eu-west-1", "2").is_none());
        let base = "arn:aws:secretsmanager:us-east-1:1:secret:prod/db";
        for id in [
            "prod/db",
            "arn:aws:secretsmanager:us-east-1:1:secret:prod/db",
            "arn:aws:secretsmanager:us-east-1:1:secret:prod/db-Xy12Zw",
        ] {
            assert_eq!(secret_base(id, "us-east-1", "1").unwrap(), base, "{id}");
        }
    }
}

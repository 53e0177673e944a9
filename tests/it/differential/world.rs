//! The generator: small random AWS worlds, seeded.

use serde_json::{Value, json};

pub const A: &str = "111122223333";
pub const B: &str = "444455556666";
pub const ORG: &str = "o-a1b2c3d4e5";
pub const ROOT: &str = "r-ab12";
pub const OU: &str = "ou-ab12-11111111";
pub const PARTNER_ORG: &str = "o-partner0001";
pub const MANAGEMENT: &str = "999988887777";
pub const REGION: &str = "us-east-1";
pub const QUESTIONS_PER_WORLD: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Res {
    S3Object,
    S3Bucket,
    Sqs,
    Sns,
    Kms,
    Lambda,
    Secret,
    Trust,
}

#[derive(Clone, Debug)]
pub enum Who {
    /// A role session: role name, path.
    Session { path: &'static str },
    /// A user in a group.
    User,
    /// A service principal, with the source it acts for.
    Service {
        principal: &'static str,
        source_arn: String,
        source_account: &'static str,
    },
}

#[derive(Clone)]
pub struct World {
    pub who: Who,
    /// The caller's account (a service principal has none; this is then its source's).
    pub account: &'static str,
    /// Whether account B belongs to the organization (else to a partner's).
    pub b_in_org: bool,
    pub res: Res,
    pub owner: &'static str,
    pub tags: Vec<(String, String)>,
    pub identity: Vec<Value>,
    pub group: Vec<Value>,
    pub managed: Vec<Value>,
    pub boundary: Option<Vec<Value>>,
    pub resource_policy: Option<Vec<Value>>,
    /// SCPs per level for [root, OU, A, B]: (name, statements).
    pub scps: Option<OrgPolicies>,
    pub rcps: Option<OrgPolicies>,
    /// Whether `describe-organization` is imported (else aws:PrincipalOrgID is given).
    pub org_imported: bool,
    /// How the owner of an S3 bucket is told: in the manifest, by --context, or not at all.
    pub s3_owner: S3Owner,
    /// Bool aws:SecureTransport of the request.
    pub questions: Vec<&'static str>,
}

/// Organization policies: (name, statements, the targets it is attached to).
pub type OrgPolicies = Vec<(String, Vec<Value>, Vec<&'static str>)>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum S3Owner {
    Manifest,
    Context,
    Unsaid,
}

pub struct Gen {
    pub rng: fastrand::Rng,
}

impl Gen {
    pub fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.rng.usize(..xs.len())].clone()
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }
}

pub fn other(acct: &str) -> &'static str {
    if acct == A { B } else { A }
}

impl World {
    pub fn role_arn(&self) -> String {
        match &self.who {
            Who::Session { path } => format!("arn:aws:iam::{}:role{path}r1", self.account),
            _ => String::new(),
        }
    }
    pub fn session_arn(&self) -> String {
        format!("arn:aws:sts::{}:assumed-role/r1/s1", self.account)
    }
    pub fn user_arn(&self) -> String {
        format!("arn:aws:iam::{}:user/alice", self.account)
    }
    /// The principal as the request names it.
    pub fn principal(&self) -> String {
        match &self.who {
            Who::Session { .. } => self.session_arn(),
            Who::User => self.user_arn(),
            Who::Service { principal, .. } => principal.to_string(),
        }
    }
    /// `aws:PrincipalArn`.
    pub fn principal_arn(&self) -> String {
        match &self.who {
            Who::Session { .. } => self.role_arn(),
            Who::User => self.user_arn(),
            Who::Service { .. } => String::new(),
        }
    }
    pub fn in_org(&self, acct: &str) -> bool {
        acct == A || self.b_in_org
    }
    pub fn org_of(&self, acct: &str) -> &'static str {
        if self.in_org(acct) { ORG } else { PARTNER_ORG }
    }
    /// Levels above an account in our organization, root first (targets).
    pub fn chain(&self, acct: &'static str) -> Vec<&'static str> {
        if !self.in_org(acct) {
            return Vec::new();
        }
        if acct == A {
            vec![ROOT, OU, A]
        } else {
            vec![ROOT, B]
        }
    }
    pub fn resource_arn(&self) -> String {
        let o = self.owner;
        match self.res {
            Res::S3Object => "arn:aws:s3:::b1/data/k.json".into(),
            Res::S3Bucket => "arn:aws:s3:::b1".into(),
            Res::Sqs => format!("arn:aws:sqs:{REGION}:{o}:q1"),
            Res::Sns => format!("arn:aws:sns:{REGION}:{o}:t1"),
            Res::Kms => {
                format!("arn:aws:kms:{REGION}:{o}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            }
            Res::Lambda => format!("arn:aws:lambda:{REGION}:{o}:function:f1"),
            Res::Secret => format!("arn:aws:secretsmanager:{REGION}:{o}:secret:s1-AbCdEf"),
            Res::Trust => format!("arn:aws:iam::{o}:role/target"),
        }
    }
    /// The resource a policy belongs to.
    pub fn policy_owner_arn(&self) -> String {
        match self.res {
            Res::S3Object | Res::S3Bucket => "arn:aws:s3:::b1".into(),
            _ => self.resource_arn(),
        }
    }
    pub fn service(&self) -> &'static str {
        match self.res {
            Res::S3Object | Res::S3Bucket => "s3",
            Res::Sqs => "sqs",
            Res::Sns => "sns",
            Res::Kms => "kms",
            Res::Lambda => "lambda",
            Res::Secret => "secretsmanager",
            Res::Trust => "sts",
        }
    }
}

pub fn actions_of(res: Res) -> &'static [&'static str] {
    match res {
        Res::S3Object => &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        Res::S3Bucket => &["s3:ListBucket", "s3:GetBucketPolicy"],
        Res::Sqs => &["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
        Res::Sns => &["sns:Publish", "sns:Subscribe"],
        Res::Kms => &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        Res::Lambda => &["lambda:InvokeFunction", "lambda:GetFunction"],
        Res::Secret => &[
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
        ],
        Res::Trust => &["sts:AssumeRole", "sts:TagSession"],
    }
}

/// Action patterns a statement may name for this resource.
pub fn action_patterns(g: &mut Gen, w: &World) -> Value {
    let acts = actions_of(w.res);
    let svc = w.service();
    let pat = g.pick(&[0, 0, 1, 2, 3, 4]);
    let one = |x: String| Value::String(x);
    match pat {
        0 => one(g.pick(acts).to_string()),
        1 => one(format!("{svc}:*")),
        2 => {
            // A prefix wildcard of one of the actions: `s3:Get*`.
            let a = g.pick(acts);
            let name = a.split(':').nth(1).unwrap();
            let cut = 1 + g.rng.usize(..name.len().min(4));
            one(format!("{svc}:{}*", name.get(..cut).unwrap()))
        }
        3 => json!([g.pick(acts), g.pick(acts)]),
        _ => one("*".into()),
    }
}

pub fn resource_patterns(g: &mut Gen, w: &World) -> Value {
    let arn = w.resource_arn();
    match (w.res, g.rng.usize(..5)) {
        (_, 0 | 1) => Value::String(arn),
        (Res::S3Object, 2) => Value::String("arn:aws:s3:::b1/*".into()),
        (Res::S3Object, 3) => Value::String("arn:aws:s3:::b1/other/*".into()),
        (Res::S3Bucket, 3) => Value::String("arn:aws:s3:::b2".into()),
        (_, 3) => Value::String(
            arn.replace(":q1", ":q2")
                .replace(":t1", ":t2")
                .replace(":f1", ":f2"),
        ),
        _ => Value::String("*".into()),
    }
}

/// A condition for an IAM caller's request, or none.
pub fn iam_condition(g: &mut Gen, w: &World, deny: bool) -> Option<Value> {
    if !g.chance(0.35) {
        return None;
    }
    let acct = w.account;
    Some(match g.rng.usize(..7) {
        0 => json!({"StringEquals": {"aws:PrincipalAccount": g.pick(&[A, B])}}),
        1 => json!({"ArnLike": {"aws:PrincipalArn": g.pick(&[
            format!("arn:aws:iam::{acct}:role/diff/*"),
            "arn:aws:iam::*:role/r1".to_string(),
            format!("arn:aws:iam::{acct}:user/*"),
        ])}}),
        2 => json!({"StringEquals": {"aws:PrincipalOrgID": g.pick(&[ORG, PARTNER_ORG])}}),
        3 => json!({"StringEquals": {"aws:PrincipalTag/team": g.pick(&["blue", "red"])}}),
        4 => json!({"Bool": {"aws:SecureTransport": g.pick(&["true", "false"])}}),
        5 if deny => json!({"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG}}),
        _ => json!({"StringEquals": {"aws:ResourceAccount": g.pick(&[A, B])}}),
    })
}

pub fn service_condition(g: &mut Gen, w: &World) -> Option<Value> {
    let Who::Service { source_arn, .. } = &w.who else {
        return None;
    };
    Some(match g.rng.usize(..4) {
        0 => json!({"ArnLike": {"aws:SourceArn": source_arn}}),
        1 => json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::some-other-bucket"}}),
        2 => json!({"StringEquals": {"aws:SourceAccount": g.pick(&[A, B])}}),
        _ => return None,
    })
}

pub fn identity_statement(g: &mut Gen, w: &World) -> Value {
    let deny = g.chance(0.2);
    let mut s = json!({"Effect": if deny { "Deny" } else { "Allow" }});
    if g.chance(0.1) {
        s["NotAction"] = Value::String(format!("{}:List*", w.service()));
    } else {
        s["Action"] = action_patterns(g, w);
    }
    if g.chance(0.05) {
        s["NotResource"] = Value::String("arn:aws:s3:::unrelated/*".into());
    } else {
        s["Resource"] = resource_patterns(g, w);
    }
    if let Some(c) = iam_condition(g, w, deny) {
        s["Condition"] = c;
    }
    s
}

/// A principal element for a resource policy statement (never a partial NotPrincipal list).
pub fn principal_element(g: &mut Gen, w: &World) -> (&'static str, Value) {
    if let Who::Service { principal, .. } = &w.who {
        return match g.rng.usize(..6) {
            0 => ("Principal", json!({"Service": "events.amazonaws.com"})),
            1 => (
                "Principal",
                json!({"AWS": format!("arn:aws:iam::{}:root", w.owner)}),
            ),
            2 => ("Principal", json!("*")),
            _ => ("Principal", json!({"Service": principal})),
        };
    }
    let acct = w.account;
    let me = match &w.who {
        Who::Session { .. } => g.pick(&[
            w.role_arn(),
            format!("arn:aws:iam::{acct}:role/r1"),
            w.session_arn(),
        ]),
        _ => w.user_arn(),
    };
    match g.rng.usize(..11) {
        0 => (
            "Principal",
            json!({"AWS": format!("arn:aws:iam::{acct}:root")}),
        ),
        1 => ("Principal", json!({"AWS": acct})),
        2..=4 => ("Principal", json!({"AWS": me})),
        5 => (
            "Principal",
            json!({"AWS": format!("arn:aws:iam::{}:root", other(acct))}),
        ),
        6 => (
            "Principal",
            json!({"AWS": format!("arn:aws:iam::{acct}:role/someone-else")}),
        ),
        7 => ("Principal", json!({"AWS": "*"})),
        8 => ("Principal", json!("*")),
        9 => {
            // A complete NotPrincipal list, or one that names someone else entirely.
            if g.chance(0.5) {
                let mut l = vec![json!(format!("arn:aws:iam::{acct}:root"))];
                match &w.who {
                    Who::Session { .. } => {
                        l.push(json!(w.role_arn()));
                        l.push(json!(w.session_arn()));
                    }
                    _ => l.push(json!(w.user_arn())),
                }
                ("NotPrincipal", json!({"AWS": l}))
            } else {
                (
                    "NotPrincipal",
                    json!({"AWS": [format!("arn:aws:iam::{}:root", other(acct)), format!("arn:aws:iam::{}:role/admin", other(acct))]}),
                )
            }
        }
        _ => (
            "Principal",
            json!({"AWS": [me, format!("arn:aws:iam::{}:root", other(acct))]}),
        ),
    }
}

pub fn resource_statement(g: &mut Gen, w: &World) -> Value {
    let (key, principal) = principal_element(g, w);
    // NotPrincipal is supported with Deny only.
    let deny = key == "NotPrincipal" || g.chance(0.25);
    let mut s = json!({"Effect": if deny { "Deny" } else { "Allow" }});
    s[key] = principal;
    s["Action"] = action_patterns(g, w);
    match w.res {
        Res::Trust => {}
        Res::Kms => s["Resource"] = json!("*"),
        _ => s["Resource"] = resource_patterns(g, w),
    }
    let cond = if matches!(w.who, Who::Service { .. }) {
        service_condition(g, w)
    } else {
        iam_condition(g, w, deny)
    };
    if let Some(c) = cond {
        s["Condition"] = c;
    }
    s
}

/// Service prefixes RCPs cover, of those the generator uses.
pub const RCP_SERVICES: [&str; 5] = ["s3", "sqs", "kms", "sts", "secretsmanager"];

pub fn org_policies(g: &mut Gen, w: &World, rcp: bool) -> OrgPolicies {
    let mut out = Vec::new();
    let full = if rcp {
        json!({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    } else {
        json!({"Effect": "Allow", "Action": "*", "Resource": "*"})
    };
    let mut levels = vec![ROOT, OU, A];
    if w.b_in_org {
        levels.push(B);
    }
    // Full access everywhere, except (SCPs only) an allow-list at some levels.
    let mut full_targets = Vec::new();
    for (i, t) in levels.iter().enumerate() {
        if !rcp && g.chance(0.2) {
            let svcs = [
                g.pick(&["s3", "sqs", "kms", "lambda", "sns"]),
                g.pick(&["sts", "secretsmanager", "s3"]),
            ];
            out.push((
                format!("allow-list-{i}"),
                vec![json!({"Effect": "Allow", "Action": svcs.iter().map(|s| format!("{s}:*")).collect::<Vec<_>>(), "Resource": "*"})],
                vec![*t],
            ));
        } else {
            full_targets.push(*t);
        }
    }
    out.push((
        if rcp {
            "RCPFullAWSAccess".into()
        } else {
            "FullAWSAccess".into()
        },
        vec![full],
        full_targets,
    ));
    // Denies at random levels.
    for i in 0..g.rng.usize(..3) {
        let svc = if rcp {
            g.pick(&RCP_SERVICES)
        } else {
            g.pick(&["s3", "sqs", "kms", "lambda", "sns", "sts", "secretsmanager"])
        };
        let mut s = json!({"Effect": "Deny", "Action": g.pick(&[format!("{svc}:*"), actions_of(w.res)[0].to_string()]), "Resource": "*"});
        if rcp {
            s["Principal"] = json!("*");
            if g.chance(0.6) {
                s["Condition"] = json!({
                    "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}
                });
            }
            // An RCP action must name a covered service.
            let a = s["Action"].as_str().unwrap().to_string();
            if !RCP_SERVICES.contains(&a.split(':').next().unwrap()) {
                s["Action"] = json!(format!("{svc}:*"));
            }
        } else if g.chance(0.4) {
            s["Condition"] = json!({"StringNotEquals": {"aws:PrincipalTag/team": "blue"}});
        }
        out.push((format!("deny-{i}"), vec![s], vec![g.pick(&levels)]));
    }
    out
}

pub fn world(g: &mut Gen) -> World {
    let res = g.pick(&[
        Res::S3Object,
        Res::S3Object,
        Res::S3Bucket,
        Res::Sqs,
        Res::Sns,
        Res::Kms,
        Res::Kms,
        Res::Lambda,
        Res::Secret,
        Res::Trust,
        Res::Trust,
    ]);
    let service_caller = matches!(res, Res::Lambda | Res::Sqs) && g.chance(0.3);
    let account = if g.chance(0.8) { A } else { B };
    let owner = if g.chance(0.55) {
        account
    } else {
        other(account)
    };
    let who = if service_caller {
        if res == Res::Lambda {
            Who::Service {
                principal: "s3.amazonaws.com",
                source_arn: "arn:aws:s3:::upload-bucket".into(),
                source_account: owner,
            }
        } else {
            Who::Service {
                principal: "sns.amazonaws.com",
                source_arn: format!("arn:aws:sns:{REGION}:{owner}:t1"),
                source_account: owner,
            }
        }
    } else if g.chance(0.7) {
        Who::Session {
            path: g.pick(&["/", "/diff/"]),
        }
    } else {
        Who::User
    };
    let mut w = World {
        who,
        account: if service_caller { owner } else { account },
        b_in_org: g.chance(0.5),
        res,
        owner,
        tags: Vec::new(),
        identity: Vec::new(),
        group: Vec::new(),
        managed: Vec::new(),
        boundary: None,
        resource_policy: None,
        scps: None,
        rcps: None,
        org_imported: g.chance(0.7),
        s3_owner: g.pick(&[
            S3Owner::Manifest,
            S3Owner::Manifest,
            S3Owner::Context,
            S3Owner::Unsaid,
        ]),
        questions: Vec::new(),
    };
    if w.s3_owner == S3Owner::Unsaid && w.owner != w.account {
        w.s3_owner = S3Owner::Manifest;
    }
    if g.chance(0.6) {
        w.tags
            .push(("team".into(), g.pick(&["blue", "red"]).into()));
    }
    if !service_caller {
        for _ in 0..g.rng.usize(..4) {
            let s = identity_statement(g, &w);
            match g.rng.usize(..3) {
                0 => w.identity.push(s),
                1 => w.managed.push(s),
                _ => {
                    if matches!(w.who, Who::User) {
                        w.group.push(s)
                    } else {
                        w.identity.push(s)
                    }
                }
            }
        }
        if g.chance(0.3) {
            let n = 1 + g.rng.usize(..2);
            let mut b = Vec::new();
            for _ in 0..n {
                let mut s = identity_statement(g, &w);
                s["Effect"] = json!("Allow");
                b.push(s);
            }
            w.boundary = Some(b);
        }
    }
    // A resource in another account, a key and a role always have their policy; others may not.
    let needs_policy =
        matches!(res, Res::Kms | Res::Trust) || w.owner != w.account || service_caller;
    if needs_policy || g.chance(0.6) {
        let mut st = Vec::new();
        for _ in 0..1 + g.rng.usize(..3) {
            st.push(resource_statement(g, &w));
        }
        w.resource_policy = Some(st);
    }
    if g.chance(0.45) {
        w.scps = Some(org_policies(g, &w, false));
    }
    if g.chance(0.35) {
        w.rcps = Some(org_policies(g, &w, true));
    }
    let acts = actions_of(res);
    for _ in 0..QUESTIONS_PER_WORLD {
        let a = if matches!(w.who, Who::Service { .. }) {
            acts[0]
        } else {
            g.pick(acts)
        };
        w.questions.push(a);
    }
    w
}

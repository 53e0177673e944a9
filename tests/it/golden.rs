//! Golden cases for the message grammar and the diagnosis: one case per message form quoted in
//! the project's research notes, `../shared/AWS-FACTS.md`, section 2a "AccessDenied message
//! formats" (the IAM and S3 guides' examples, the phrase inventory, the legacy and EC2 forms, the
//! policy-ARN and authorization-id suffixes, CloudTrail's truncation, the SDK and IaC wrappers)
//! and section 2b "Lambda trigger-setup and execution-role errors" (its table, rows 1 to 11).
//! Where the notes quote only part of a message (a suffix, a phrase), the case puts it in the
//! IAM guide's `User: <arn> is not authorized to perform: <action> ...` sentence.
//!
//! A case names the fields the quoted wording makes certain; fields it does not name are not
//! checked, except the suffix fields (`via`, `policy_arn`, `authorization_id`, `encoded`,
//! `truncated`), which must be absent unless the case expects them. A message the notes show
//! wrapped is checked twice: as written, with `\n` inside, and joined on one line. Each test is
//! one section; it runs every case and then fails naming each case (and variant) that failed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::fmt::Debug;
use std::sync::OnceLock;

use whydenied::diagnose::Kind;
use whydenied::parse::{Denial, Family, LambdaError, Parser, PolicyKind, Reason};
use whydenied::rules::Rules;
use whydenied::suggest::{Suggestion, analyse};

use whydenied::parse::Family::{Authorization, Bare};
use whydenied::parse::PolicyKind::{
    Identity, PermissionsBoundary as Boundary, Rcp, Resource, Scp, Session, Trust, VpcEndpoint,
};
use whydenied::parse::Reason::{Explicit, ExplicitUntyped, Implicit, Unstated};

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| Rules::embedded().expect("the embedded rules load"))
}

fn parser() -> &'static Parser<'static> {
    static PARSER: OnceLock<Parser<'static>> = OnceLock::new();
    PARSER.get_or_init(|| Parser::new(rules()).expect("the grammar compiles"))
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// One variant of a case's text, parsed and diagnosed.
struct Run {
    variant: &'static str,
    denial: Denial,
    diag: Suggestion,
}

/// The cases of one section and every failure found in them.
#[derive(Default)]
struct Table {
    cases: usize,
    failures: Vec<String>,
}

impl Table {
    /// A message as the notes quote it on one line.
    fn case(&mut self, name: &'static str, text: &str) -> Case<'_> {
        self.start(name, vec![("as written", text.to_string())])
    }

    /// A message the notes show wrapped: checked with its line breaks and joined on one line.
    fn wrapped(&mut self, name: &'static str, text: &str) -> Case<'_> {
        if !text.contains('\n') {
            self.failures
                .push(format!("{name}: a wrapped case must contain a line break"));
        }
        self.start(
            name,
            vec![
                ("with line breaks", text.to_string()),
                ("on one line", text.replace('\n', " ")),
            ],
        )
    }

    /// Text that is not a denial: the parser must return None.
    fn not_denial(&mut self, name: &'static str, text: &str) {
        self.cases += 1;
        if let Some(d) = parser().message(text) {
            self.failures.push(format!(
                "{name}: parsed as a denial ({:?}, action {:?}); want None",
                d.message.family, d.action
            ));
        }
    }

    fn start(&mut self, name: &'static str, variants: Vec<(&'static str, String)>) -> Case<'_> {
        self.cases += 1;
        let mut runs = Vec::new();
        for (variant, text) in variants {
            match parser().message(&text) {
                Some(denial) => {
                    let diag = analyse(&denial, rules(), None);
                    runs.push(Run {
                        variant,
                        denial,
                        diag,
                    });
                }
                None => self.failures.push(format!(
                    "{name} [{variant}]: not recognised as a denial: {text:?}"
                )),
            }
        }
        Case {
            table: self,
            name,
            runs,
            via: None,
            policy_arn: None,
            authorization_id: None,
            encoded: false,
            truncated: false,
        }
    }

    /// Fails naming every failed case.
    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} failure(s) among {} cases:\n  - {}",
            self.failures.len(),
            self.cases,
            self.failures.join("\n  - ")
        );
    }
}

/// The expectations of one case. Each method checks one field in every variant; the suffix
/// fields are checked when the case is dropped (at the end of its statement).
struct Case<'t> {
    table: &'t mut Table,
    name: &'static str,
    runs: Vec<Run>,
    via: Option<PolicyKind>,
    policy_arn: Option<&'static str>,
    authorization_id: Option<&'static str>,
    encoded: bool,
    truncated: bool,
}

impl Drop for Case<'_> {
    fn drop(&mut self) {
        let via = self.via;
        let arn = self.policy_arn.map(str::to_string);
        let id = self.authorization_id.map(str::to_string);
        let (encoded, truncated) = (self.encoded, self.truncated);
        self.check("via", |r| r.denial.message.via, via);
        self.check("policy_arn", |r| r.denial.message.policy_arn.clone(), arn);
        self.check(
            "authorization_id",
            |r| r.denial.message.authorization_id.clone(),
            id,
        );
        self.check("encoded", |r| r.denial.message.encoded, encoded);
        self.check("truncated", |r| r.denial.message.truncated, truncated);
    }
}

impl Case<'_> {
    fn ensure(&mut self, field: &str, test: impl Fn(&Run) -> Result<(), String>) {
        for r in &self.runs {
            if let Err(e) = test(r) {
                self.table
                    .failures
                    .push(format!("{} [{}]: {field}: {e}", self.name, r.variant));
            }
        }
    }

    fn check<T: PartialEq + Debug>(&mut self, field: &str, get: impl Fn(&Run) -> T, want: T) {
        self.ensure(field, |r| {
            let got = get(r);
            if got == want {
                Ok(())
            } else {
                Err(format!("got {got:?}, want {want:?}"))
            }
        });
    }

    // --- the parsed message ---

    fn family(mut self, f: Family) -> Self {
        self.check("family", |r| r.denial.message.family.clone(), f);
        self
    }

    fn lambda(self, e: LambdaError) -> Self {
        self.family(Family::Lambda(e))
    }

    fn reason(mut self, want: Reason) -> Self {
        self.check("reason", |r| r.denial.message.reason.clone(), want);
        self
    }

    /// `Reason::Other` holding `fragment`.
    fn other_reason(mut self, fragment: &str) -> Self {
        self.ensure("reason", |r| match &r.denial.message.reason {
            Reason::Other(s) if s.contains(fragment) => Ok(()),
            other => Err(format!("got {other:?}, want Other(.. {fragment:?} ..)")),
        });
        self
    }

    fn via(mut self, p: PolicyKind) -> Self {
        self.via = Some(p);
        self
    }

    fn policy_arn(mut self, arn: &'static str) -> Self {
        self.policy_arn = Some(arn);
        self
    }

    fn authorization_id(mut self, id: &'static str) -> Self {
        self.authorization_id = Some(id);
        self
    }

    fn encoded(mut self) -> Self {
        self.encoded = true;
        self
    }

    fn truncated(mut self) -> Self {
        self.truncated = true;
        self
    }

    fn error_code(mut self, code: &str) -> Self {
        self.check(
            "error_code",
            |r| r.denial.message.error_code.clone(),
            some(code),
        );
        self
    }

    fn operation(mut self, op: &str) -> Self {
        self.check(
            "operation",
            |r| r.denial.message.operation.clone(),
            some(op),
        );
        self
    }

    // --- the denial ---

    fn action(mut self, a: &str) -> Self {
        self.check("action", |r| r.denial.action.clone(), some(a));
        self
    }

    fn actions(mut self, want: &[&str]) -> Self {
        let want: Vec<String> = want.iter().map(|a| a.to_string()).collect();
        self.check("actions", |r| r.denial.actions.clone(), want);
        self
    }

    fn resource(mut self, res: &str) -> Self {
        self.check("resource", |r| r.denial.resource.clone(), some(res));
        self
    }

    fn no_resource(mut self) -> Self {
        self.check("resource", |r| r.denial.resource.clone(), None);
        self
    }

    fn caller(mut self, arn: &str) -> Self {
        self.check("caller", |r| r.denial.caller.clone(), some(arn));
        self
    }

    fn no_caller(mut self) -> Self {
        self.check("caller", |r| r.denial.caller.clone(), None);
        self
    }

    fn caller_iam(mut self, arn: &str) -> Self {
        self.check("caller_iam", |r| r.denial.caller_iam.clone(), some(arn));
        self
    }

    fn function(mut self, f: &str) -> Self {
        self.check("function", |r| r.denial.function.clone(), some(f));
        self
    }

    fn no_function(mut self) -> Self {
        self.check("function", |r| r.denial.function.clone(), None);
        self
    }

    // --- the diagnosis ---

    fn kind(mut self, k: Kind) -> Self {
        self.check("kind", |r| r.diag.kind, k);
        self
    }

    fn cause(mut self, c: &str) -> Self {
        self.check("cause", |r| r.diag.cause.to_string(), c.to_string());
        self
    }

    /// The identity (or service principal) whose permissions must change.
    fn principal(mut self, p: &str) -> Self {
        self.check("diagnosis principal", |r| r.diag.principal.clone(), some(p));
        self
    }

    fn diag_function(mut self, f: &str) -> Self {
        self.check("diagnosis function", |r| r.diag.function.clone(), some(f));
        self
    }

    fn no_diag_function(mut self) -> Self {
        self.check("diagnosis function", |r| r.diag.function.clone(), None);
        self
    }

    fn managed(mut self, arn: &str) -> Self {
        self.check(
            "fix.managed_policy_arn",
            |r| r.diag.fix.managed_policy_arn.clone(),
            some(arn),
        );
        self
    }

    fn no_managed(mut self) -> Self {
        self.check(
            "fix.managed_policy_arn",
            |r| r.diag.fix.managed_policy_arn.clone(),
            None,
        );
        self
    }

    fn fix_target(mut self, target: &str) -> Self {
        self.check(
            "fix.target",
            |r| r.diag.fix.target.to_string(),
            target.to_string(),
        );
        self
    }

    /// `fix.account`: who must run the commands, when not the denied principal's account.
    fn fix_account(mut self, account: Option<&str>) -> Self {
        self.check(
            "fix.account",
            |r| format!("{:?}", r.diag.fix.account),
            format!("{:?}", account.map(str::to_string)),
        );
        self
    }
}

const SQS_ROLE: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole";
const VPC_ROLE: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";
const XRAY_POLICY: &str = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess";
const DDB_ROLE: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole";
const KINESIS_ROLE: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole";

// ---------------------------------------------------------------------------------------------
// 2a. The IAM guide's example messages (each wrapped after `perform:` in the guide)
// ---------------------------------------------------------------------------------------------

#[test]
fn iam_guide_examples() {
    let mut t = Table::default();

    t.wrapped(
        "IAM guide: no SCP allows (the guide misspells the second action name)",
        "User: arn:aws:iam::777788889999:user/John is not authorized to perform:\n\
         codecommit:ListRepositories because no service control policy allows the codecommit:ListRespositories action",
    )
    .family(Authorization)
    .action("codecommit:ListRepositories")
    .no_resource()
    .reason(Implicit(Scp))
    .caller("arn:aws:iam::777788889999:user/John")
    .caller_iam("arn:aws:iam::777788889999:user/John")
    .no_function()
    .kind(Kind::AccessDenied)
    .cause("no_scp_allow")
    .fix_target("scp");

    t.wrapped(
        "IAM guide: explicit deny in an SCP",
        "User: arn:aws:iam::777788889999:user/John is not authorized to perform:\n\
         codecommit:ListRepositories with an explicit deny in a service control policy",
    )
    .action("codecommit:ListRepositories")
    .no_resource()
    .reason(Explicit(Scp))
    .kind(Kind::AccessDenied)
    .cause("explicit_deny_scp")
    .fix_target("scp");

    t.wrapped(
        "IAM guide: explicit deny in an RCP, with a wildcard resource",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform:\n\
         secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:* with an explicit deny in a resource control policy",
    )
    .action("secretsmanager:GetSecretValue")
    .resource("arn:aws:secretsmanager:us-east-1:123456789012:secret:*")
    .reason(Explicit(Rcp))
    .caller("arn:aws:iam::123456789012:user/John")
    .cause("explicit_deny_rcp")
    .fix_target("rcp");

    t.wrapped(
        "IAM guide: no VPC endpoint policy allows",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform:\n\
         codecommit:ListRepositories because no VPC endpoint policy allows the codecommit:ListRepositories action",
    )
    .action("codecommit:ListRepositories")
    .no_resource()
    .reason(Implicit(VpcEndpoint))
    .kind(Kind::AccessDenied)
    .cause("no_vpc_endpoint_allow");

    t.wrapped(
        "IAM guide: explicit deny in a VPC endpoint policy",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform:\n\
         codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* with an explicit deny in a VPC endpoint policy",
    )
    .action("codedeploy:ListDeployments")
    .resource("arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*")
    .reason(Explicit(VpcEndpoint))
    .cause("explicit_deny_vpc_endpoint");

    t.wrapped(
        "IAM guide: no permissions boundary allows",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform:\n\
         codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* because no permissions boundary allows the codedeploy:ListDeployments action",
    )
    .action("codedeploy:ListDeployments")
    .resource("arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*")
    .reason(Implicit(Boundary))
    .cause("no_boundary_allow")
    .fix_target("permissions_boundary");

    t.wrapped(
        "IAM guide: explicit deny in a permissions boundary (phrase at the very end)",
        "User: arn:aws:iam::777788889999:user/John is not authorized to perform:\n\
         sagemaker:ListModels with an explicit deny in a permissions boundary",
    )
    .action("sagemaker:ListModels")
    .no_resource()
    .reason(Explicit(Boundary))
    .cause("explicit_deny_boundary")
    .fix_target("permissions_boundary");

    t.wrapped(
        "IAM guide: no session policy allows",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform:\n\
         codecommit:ListRepositories because no session policy allows the codecommit:ListRepositories action",
    )
    .action("codecommit:ListRepositories")
    .reason(Implicit(Session))
    .cause("no_session_allow");

    t.wrapped(
        "IAM guide: explicit deny in a \"sessions policy\" (sic)",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform:\n\
         codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* with an explicit deny in a sessions policy",
    )
    .action("codedeploy:ListDeployments")
    .resource("arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*")
    .reason(Explicit(Session))
    .cause("explicit_deny_session");

    t.case(
        "S3 guide's spelling: explicit deny in a \"session policy\"",
        "User: arn:aws:iam::123456789012:user/MaryMajor is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::amzn-s3-demo-bucket1/object-name\" with an explicit deny in a session policy",
    )
    .action("s3:GetObject")
    .resource("arn:aws:s3:::amzn-s3-demo-bucket1/object-name")
    .reason(Explicit(Session))
    .cause("explicit_deny_session");

    t.wrapped(
        "IAM guide: no resource-based policy allows",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform:\n\
         secretsmanager:GetSecretValue because no resource-based policy allows the secretsmanager:GetSecretValue action",
    )
    .action("secretsmanager:GetSecretValue")
    .no_resource()
    .reason(Implicit(Resource))
    .kind(Kind::AccessDenied)
    .cause("no_resource_allow")
    .fix_target("resource_policy");

    t.wrapped(
        "IAM guide: explicit deny in a resource-based policy",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform:\n\
         secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:* with an explicit deny in a resource-based policy",
    )
    .action("secretsmanager:GetSecretValue")
    .resource("arn:aws:secretsmanager:us-east-1:123456789012:secret:*")
    .reason(Explicit(Resource))
    .cause("explicit_deny_resource")
    .fix_target("resource_policy");

    t.wrapped(
        "IAM guide: no role trust policy allows sts:AssumeRole",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform:\n\
         sts:AssumeRole because no role trust policy allows the sts:AssumeRole action",
    )
    .action("sts:AssumeRole")
    .reason(Implicit(Trust))
    .kind(Kind::AccessDenied)
    .cause("trust_policy")
    .fix_target("trust_policy");

    t.wrapped(
        "IAM guide: explicit deny in \"the\" role trust policy",
        "User: arn:aws:iam::777788889999:user/John is not authorized to perform:\n\
         sts:AssumeRole with an explicit deny in the role trust policy",
    )
    .action("sts:AssumeRole")
    .reason(Explicit(Trust))
    .cause("trust_policy");

    t.wrapped(
        "IAM guide: a role, no identity-based policy allows",
        "User: arn:aws:iam::123456789012:role/HR is not authorized to perform:\n\
         codecommit:ListRepositories because no identity-based policy allows the codecommit:ListRepositories action",
    )
    .action("codecommit:ListRepositories")
    .no_resource()
    .reason(Implicit(Identity))
    .caller("arn:aws:iam::123456789012:role/HR")
    .caller_iam("arn:aws:iam::123456789012:role/HR")
    .no_function()
    .kind(Kind::AccessDenied)
    .cause("no_identity_allow")
    .principal("arn:aws:iam::123456789012:role/HR")
    .fix_target("identity_policy");

    t.wrapped(
        "IAM guide: a role, explicit deny in \"an\" identity-based policy",
        "User: arn:aws:iam::123456789012:role/HR is not authorized to perform:\n\
         codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* with an explicit deny in an identity-based policy",
    )
    .action("codedeploy:ListDeployments")
    .resource("arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*")
    .reason(Explicit(Identity))
    .cause("explicit_deny_identity")
    .fix_target("identity_policy");

    t.wrapped(
        "IAM guide: assumed role, upper-case SNS:Publish, VPC endpoint deny transitively through an SCP",
        "User: arn:aws:sts::111122223333:assumed-role/role-name/role-session-name is not authorized to perform:\n\
         SNS:Publish on resource: arn:aws:sns:us-east-1:444455556666:role-name-2\n\
         with an explicit deny in a VPC endpoint policy transitively through a service control policy",
    )
    .action("sns:Publish")
    .actions(&["sns:Publish"])
    .resource("arn:aws:sns:us-east-1:444455556666:role-name-2")
    .reason(Explicit(VpcEndpoint))
    .via(Scp)
    .caller("arn:aws:sts::111122223333:assumed-role/role-name/role-session-name")
    .caller_iam("arn:aws:iam::111122223333:role/role-name")
    .function("role-session-name")
    .kind(Kind::AccessDenied)
    .cause("explicit_deny_vpc_endpoint")
    .principal("arn:aws:iam::111122223333:role/role-name");

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2a. Bare legacy reasons: untyped explicit deny, no reason at all, the older SCP wording
// ---------------------------------------------------------------------------------------------

#[test]
fn legacy_reasons() {
    let mut t = Table::default();

    t.case(
        "legacy: bare \"with an explicit deny\" (access-undenied README), wildcard resource",
        "User: arn:aws:iam::123456789012:user/tester is not authorized to perform: lambda:ListFunctions on resource: * with an explicit deny",
    )
    .family(Authorization)
    .action("lambda:ListFunctions")
    .resource("*")
    .reason(ExplicitUntyped)
    .kind(Kind::AccessDenied)
    .cause("explicit_deny");

    t.case(
        "legacy: no reason clause (panther-analysis iam_user_recon_denied)",
        "User: arn:aws:iam::123456789012:user/tester is not authorized to perform: iam:GetRole on resource: arn:aws:iam::123456789012:role/FooBar",
    )
    .family(Authorization)
    .action("iam:GetRole")
    .resource("arn:aws:iam::123456789012:role/FooBar")
    .reason(Unstated)
    .caller("arn:aws:iam::123456789012:user/tester")
    .caller_iam("arn:aws:iam::123456789012:user/tester")
    .kind(Kind::AccessDenied)
    .cause("unknown")
    .principal("arn:aws:iam::123456789012:user/tester");

    t.case(
        "legacy: \"due to an explicit deny in a Service Control Policy\" (capitalised, older IAM guide)",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: codecommit:ListRepositories due to an explicit deny in a Service Control Policy",
    )
    .action("codecommit:ListRepositories")
    .no_resource()
    .reason(Explicit(Scp))
    .cause("explicit_deny_scp");

    t.finish();
}

/// The access-undenied README quotes the bare-deny message from `is not authorized` on, without
/// the `User: <arn>` before it: the action and reason are still in the text.
#[test]
fn legacy_fragment_without_principal() {
    let mut t = Table::default();

    t.case(
        "legacy: the README's fragment as quoted, starting at \"is not authorized\"",
        "is not authorized to perform: lambda:ListFunctions on resource: * with an explicit deny",
    )
    .action("lambda:ListFunctions")
    .resource("*")
    .reason(ExplicitUntyped)
    .no_caller()
    .cause("explicit_deny");

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2a. Policy-ARN suffixes (`: arn:...`, `, with policy ARN: arn:...`) and the Access
// Troubleshooter's authorization id
// ---------------------------------------------------------------------------------------------

#[test]
fn policy_arn_and_authorization_id_suffixes() {
    let mut t = Table::default();

    t.case(
        "suffix: SCP ARN after a colon (IAM blog)",
        "User: arn:aws:sts::123456789012:assumed-role/orders-role/orders-fn is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:123456789012:orders with an explicit deny in a service control policy: arn:aws:organizations::987654321098:policy/o-qv5af4abcd/service_control_policy/p-2kgnabcd",
    )
    .action("sqs:SendMessage")
    .resource("arn:aws:sqs:us-east-1:123456789012:orders")
    .reason(Explicit(Scp))
    .policy_arn(
        "arn:aws:organizations::987654321098:policy/o-qv5af4abcd/service_control_policy/p-2kgnabcd",
    )
    .cause("explicit_deny_scp")
    .fix_target("scp")
    .fix_account(Some("987654321098"));

    t.case(
        "suffix: RCP ARN after a colon",
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:db with an explicit deny in a resource control policy: arn:aws:organizations::111122223333:policy/o-exampleorg/resource_control_policy/p-examplercp",
    )
    .action("secretsmanager:GetSecretValue")
    .resource("arn:aws:secretsmanager:us-east-1:123456789012:secret:db")
    .reason(Explicit(Rcp))
    .policy_arn(
        "arn:aws:organizations::111122223333:policy/o-exampleorg/resource_control_policy/p-examplercp",
    )
    .cause("explicit_deny_rcp")
    .fix_account(Some("111122223333"));

    t.case(
        "suffix: \", with policy ARN: arn:...\" spelling (secondary summary of the S3 guide)",
        "User: arn:aws:iam::123456789012:user/MaryMajor is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::amzn-s3-demo-bucket1/object-name\" with an explicit deny in a service control policy, with policy ARN: arn:aws:organizations::123456789012:policy/o-exampleorg/service_control_policy/p-examplescp",
    )
    .action("s3:GetObject")
    .resource("arn:aws:s3:::amzn-s3-demo-bucket1/object-name")
    .reason(Explicit(Scp))
    .policy_arn(
        "arn:aws:organizations::123456789012:policy/o-exampleorg/service_control_policy/p-examplescp",
    )
    .cause("explicit_deny_scp")
    .fix_account(None);

    t.wrapped(
        "Access Troubleshooter: identity-policy ARN ending the sentence, console link and authorization id",
        "User: arn:aws:iam::123456789012:user/janedoe is not authorized to perform: iam:CreateInstanceProfile\n\
         on resource: arn:aws:iam::123456789012:instance-profile/my-instance-profile\n\
         with an explicit deny in an identity-based policy: arn:aws:iam::123456789012:policy/ExampleDenyPolicy.\n\
         Go to https://us-east-1.console.aws.amazon.com/iam/home?region=us-east-1#/authorization-details/EXAMPLE1a2b3c4d5e6f7g8h9i0j for complete details,\n\
         or call the GetRequestAuthorizationDetails API with the following authorization id: EXAMPLE1a2b3c4d5e6f7g8h9i0j",
    )
    .action("iam:CreateInstanceProfile")
    .resource("arn:aws:iam::123456789012:instance-profile/my-instance-profile")
    .reason(Explicit(Identity))
    .policy_arn("arn:aws:iam::123456789012:policy/ExampleDenyPolicy")
    .authorization_id("EXAMPLE1a2b3c4d5e6f7g8h9i0j")
    .caller("arn:aws:iam::123456789012:user/janedoe")
    .kind(Kind::AccessDenied)
    .cause("explicit_deny_identity")
    .fix_target("identity_policy");

    t.wrapped(
        "real SQS report: CLI wrapper, SSO session, lower-case sqs:receivemessage, SCP ARN on its own line",
        "An error occurred (AccessDenied) when calling the ReceiveMessage operation:\n\
         User: arn:aws:sts::173078698674:assumed-role/AWSReservedSSO_173078698674-cscdigitalassistan_6e3a3c6c123a8e57/xnxn040\n\
         is not authorized to perform: sqs:receivemessage on resource:\n\
         arn:aws:sqs:us-east-2:765425735388:genesys-transcription-latency-test\n\
         with an explicit deny in a service control policy:\n\
         arn:aws:organizations::052343574110:policy/o-y3vn941x7j/service_control_policy/p-kfhxcsd9",
    )
    .action("sqs:ReceiveMessage")
    .actions(&["sqs:ReceiveMessage"])
    .resource("arn:aws:sqs:us-east-2:765425735388:genesys-transcription-latency-test")
    .reason(Explicit(Scp))
    .policy_arn(
        "arn:aws:organizations::052343574110:policy/o-y3vn941x7j/service_control_policy/p-kfhxcsd9",
    )
    .error_code("AccessDenied")
    .operation("ReceiveMessage")
    .caller("arn:aws:sts::173078698674:assumed-role/AWSReservedSSO_173078698674-cscdigitalassistan_6e3a3c6c123a8e57/xnxn040")
    .caller_iam("arn:aws:iam::173078698674:role/AWSReservedSSO_173078698674-cscdigitalassistan_6e3a3c6c123a8e57")
    .kind(Kind::AccessDenied)
    .cause("explicit_deny_scp")
    .fix_target("scp");

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2a. S3: quoted resources, the double space, SSE-C and Block Public Access reasons, the
// generic `Access Denied`
// ---------------------------------------------------------------------------------------------

#[test]
fn s3_messages() {
    let mut t = Table::default();

    t.wrapped(
        "S3 guide: CLI GetObject wrapper, quoted resource, explicit deny in an RCP",
        "An error occurred (AccessDenied) when calling the GetObject operation:\n\
         User: arn:aws:iam::777788889999:user/MaryMajor is not authorized to perform:\n\
         s3:GetObject on resource: \"arn:aws:s3:::amzn-s3-demo-bucket1/object-name\"\n\
         with an explicit deny in a resource control policy",
    )
    .family(Authorization)
    .action("s3:GetObject")
    .resource("arn:aws:s3:::amzn-s3-demo-bucket1/object-name")
    .reason(Explicit(Rcp))
    .error_code("AccessDenied")
    .operation("GetObject")
    .caller("arn:aws:iam::777788889999:user/MaryMajor")
    .cause("explicit_deny_rcp");

    t.wrapped(
        "S3 guide: quoted resource, no permissions boundary allows",
        "User: arn:aws:iam::123456789012:user/MaryMajor is not authorized to perform:\n\
         s3:GetObject on resource: \"arn:aws:s3:::amzn-s3-demo-bucket1/object-name\"\n\
         because no permissions boundary allows the s3:GetObject action",
    )
    .action("s3:GetObject")
    .resource("arn:aws:s3:::amzn-s3-demo-bucket1/object-name")
    .reason(Implicit(Boundary))
    .cause("no_boundary_allow");

    t.wrapped(
        "S3 guide: SSE-C blocked upload, double space after MaryMajor, wrapped mid-sentence",
        "An error occurred (AccessDenied) when calling the PutObject operation:\n\
         User: arn:aws:iam::123456789012:user/MaryMajor  is not\n\
         authorized to perform: s3:PutObject on resource:\n\
         \"arn:aws:s3:::amzn-s3-demo-bucket1/object-name\" because this\n\
         bucket has blocked upload requests that specify\n\
         Server Side Encryption with Customer provided keys (SSE-C).\n\
         Please specify a different server-side encryption type",
    )
    .family(Authorization)
    .action("s3:PutObject")
    .resource("arn:aws:s3:::amzn-s3-demo-bucket1/object-name")
    .other_reason("blocked upload requests")
    .error_code("AccessDenied")
    .operation("PutObject")
    .caller("arn:aws:iam::123456789012:user/MaryMajor")
    .kind(Kind::AccessDenied)
    .cause("other_condition");

    t.case(
        "S3: Block Public Access reason (wording unverified in the notes)",
        "User: arn:aws:iam::123456789012:user/MaryMajor is not authorized to perform: s3:PutObjectAcl on resource: \"arn:aws:s3:::amzn-s3-demo-bucket1/object-name\" because public access control lists (ACLs) are blocked by the BlockPublicAcls block public access setting.",
    )
    .action("s3:PutObjectAcl")
    .resource("arn:aws:s3:::amzn-s3-demo-bucket1/object-name")
    .other_reason("BlockPublicAcls")
    .cause("other_condition");

    t.case(
        "S3 legacy / other account: generic \"Access Denied\" in the CLI wrapper (elife-xpub#791)",
        "An error occurred (AccessDenied) when calling the PutObject operation: Access Denied",
    )
    .family(Bare)
    .action("s3:PutObject")
    .no_resource()
    .reason(Unstated)
    .error_code("AccessDenied")
    .operation("PutObject")
    .no_caller()
    .kind(Kind::AccessDenied)
    .cause("unknown");

    t.case(
        "S3 legacy: Node SDK v3 JSON error with \"Access Denied\" (aws-sdk-js-v3#2778)",
        r#"{"errorType": "AccessDenied", "errorMessage": "Access Denied", "Code": "AccessDenied"}"#,
    )
    .family(Bare)
    .reason(Unstated)
    .error_code("AccessDenied")
    .no_resource()
    .cause("unknown");

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2a. EC2 `UnauthorizedOperation`: with and without a User part, encoded messages, and
// CloudTrail's cut at ~1 KiB ending in `...`
// ---------------------------------------------------------------------------------------------

#[test]
fn ec2_unauthorized_operation_and_truncation() {
    let mut t = Table::default();

    t.case(
        "EC2 CloudTrail (stratus-red-team): User part, go-sdk session, encoded blob, cut with ...",
        "You are not authorized to perform this operation. User: arn:aws:sts::751353041310:assumed-role/stratus-red-team-ec2lui-role-idtzskbvtd/aws-go-sdk-1722511821294449000 is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:ca-south-3r:751353041310:instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: T-kSWIRFn32_fxSg...(truncated here)...2uV4Fj27vJ4...",
    )
    .family(Authorization)
    .action("ec2:RunInstances")
    .resource("arn:aws:ec2:ca-south-3r:751353041310:instance/*")
    .reason(Implicit(Identity))
    .encoded()
    .truncated()
    .caller("arn:aws:sts::751353041310:assumed-role/stratus-red-team-ec2lui-role-idtzskbvtd/aws-go-sdk-1722511821294449000")
    .caller_iam("arn:aws:iam::751353041310:role/stratus-red-team-ec2lui-role-idtzskbvtd")
    .no_function()
    .kind(Kind::AccessDenied)
    .cause("no_identity_allow")
    .principal("arn:aws:iam::751353041310:role/stratus-red-team-ec2lui-role-idtzskbvtd")
    .no_diag_function();

    t.case(
        "EC2 re:Post: User part, explicit deny in an SCP then \". Encoded ...\" (not a policy ARN)",
        "You are not authorized to perform this operation. User: arn:aws:sts::999888777666:assumed-role/ReadOnly/Tom is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:999888777666:instance/* with an explicit deny in a service control policy. Encoded authorization failure message: XQ_jqde5rHje6j9P-...",
    )
    .action("ec2:RunInstances")
    .resource("arn:aws:ec2:us-east-1:999888777666:instance/*")
    .reason(Explicit(Scp))
    .encoded()
    .truncated()
    .caller("arn:aws:sts::999888777666:assumed-role/ReadOnly/Tom")
    .caller_iam("arn:aws:iam::999888777666:role/ReadOnly")
    .cause("explicit_deny_scp");

    t.case(
        "EC2 CLI: UnauthorizedOperation wrapper, no User part, encoded blob",
        "An error occurred (UnauthorizedOperation) when calling the RunInstances operation: You are not authorized to perform this operation. Encoded authorization failure message: 4xAmPlE-eNcOdEd_MeSsAgE0123456789abcdef",
    )
    .family(Bare)
    .action("ec2:RunInstances")
    .no_resource()
    .reason(Unstated)
    .encoded()
    .error_code("UnauthorizedOperation")
    .operation("RunInstances")
    .no_caller()
    .kind(Kind::AccessDenied)
    .cause("unknown");

    t.case(
        "EC2 CloudTrail: the sentence alone, no User part, nothing encoded",
        "You are not authorized to perform this operation.",
    )
    .family(Bare)
    .no_resource()
    .reason(Unstated)
    .no_caller()
    .kind(Kind::AccessDenied)
    .cause("unknown");

    t.case(
        "CloudTrail cut inside the resource: resource unknown, the rest kept",
        "User: arn:aws:sts::123456789012:assumed-role/app-role/aws-go-sdk-1722511821294449000 is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:123456789012:inst...",
    )
    .action("ec2:RunInstances")
    .no_resource()
    .reason(Unstated)
    .truncated()
    .caller_iam("arn:aws:iam::123456789012:role/app-role");

    t.case(
        "CloudTrail cut inside the reason: the policy type survives",
        "User: arn:aws:sts::123456789012:assumed-role/app-role/aws-go-sdk-1722511821294449000 is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:123456789012:instance/* because no identity-based policy allows the ec2:RunInst...",
    )
    .action("ec2:RunInstances")
    .resource("arn:aws:ec2:us-east-1:123456789012:instance/*")
    .reason(Implicit(Identity))
    .truncated()
    .cause("no_identity_allow");

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2a. STS and the JSON-protocol services (Comprehend, DynamoDB, SSM, KMS) as Lambda logs them
// ---------------------------------------------------------------------------------------------

#[test]
fn sts_and_json_protocol_services() {
    let mut t = Table::default();

    t.case(
        "STS AssumeRole (stratus-red-team CloudTrail): no reason clause",
        "User: arn:aws:iam::321848314756:user/christophe is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role",
    )
    .family(Authorization)
    .action("sts:AssumeRole")
    .resource("arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role")
    .reason(Unstated)
    .caller("arn:aws:iam::321848314756:user/christophe")
    .kind(Kind::AccessDenied)
    .cause("unknown");

    t.case(
        "Go SDK v2 wrapper (cloudbeat#2331): STS AssumeRole, go-sdk session, redacted accounts",
        "operation error STS: AssumeRole, https response error StatusCode: 403, RequestID: ID, api error AccessDenied: User: arn:aws:sts::ORGID:assumed-role/cloudbeat-root/aws-go-sdk-1720620241428501785 is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::OTHERID:role/cloudbeat-securityaudit",
    )
    .action("sts:AssumeRole")
    .resource("arn:aws:iam::OTHERID:role/cloudbeat-securityaudit")
    .reason(Unstated)
    .error_code("AccessDenied")
    .operation("AssumeRole")
    .caller("arn:aws:sts::ORGID:assumed-role/cloudbeat-root/aws-go-sdk-1720620241428501785")
    .caller_iam("arn:aws:iam::ORGID:role/cloudbeat-root")
    .no_function()
    .cause("unknown");

    t.case(
        "boto3 in a Lambda log: [ERROR] ClientError, AccessDeniedException, the function's session",
        "[ERROR] ClientError: An error occurred (AccessDeniedException) when calling the DetectDominantLanguage operation: User: arn:aws:sts::281248178297:assumed-role/techmoda-ai-diego-pina-AnalyzeSentimentFunctionRole-JLWVJfdLWTLR/techmoda-ai-diego-pina-AnalyzeSentiment is not authorized to perform: comprehend:DetectDominantLanguage because no identity-based policy allows the comprehend:DetectDominantLanguage action",
    )
    .family(Authorization)
    .action("comprehend:DetectDominantLanguage")
    .no_resource()
    .reason(Implicit(Identity))
    .error_code("AccessDeniedException")
    .operation("DetectDominantLanguage")
    .caller("arn:aws:sts::281248178297:assumed-role/techmoda-ai-diego-pina-AnalyzeSentimentFunctionRole-JLWVJfdLWTLR/techmoda-ai-diego-pina-AnalyzeSentiment")
    .caller_iam("arn:aws:iam::281248178297:role/techmoda-ai-diego-pina-AnalyzeSentimentFunctionRole-JLWVJfdLWTLR")
    .function("techmoda-ai-diego-pina-AnalyzeSentiment")
    .kind(Kind::AccessDenied)
    .cause("no_identity_allow")
    .principal("arn:aws:iam::281248178297:role/techmoda-ai-diego-pina-AnalyzeSentimentFunctionRole-JLWVJfdLWTLR")
    .diag_function("techmoda-ai-diego-pina-AnalyzeSentiment")
    .fix_target("identity_policy");

    t.case(
        "DynamoDB in a Node Lambda log: the errorMessage field as logged, quotes around it",
        r#""errorMessage":"User: arn:aws:sts::626238822062:assumed-role/bijit-outbound-role-penguin/bijit-outbound-callback-penguin is not authorized to perform: dynamodb:Scan on resource: arn:aws:dynamodb:us-east-1:626238822062:table/Employee because no identity-based policy allows the dynamodb:Scan action""#,
    )
    .action("dynamodb:Scan")
    .resource("arn:aws:dynamodb:us-east-1:626238822062:table/Employee")
    .reason(Implicit(Identity))
    .caller("arn:aws:sts::626238822062:assumed-role/bijit-outbound-role-penguin/bijit-outbound-callback-penguin")
    .caller_iam("arn:aws:iam::626238822062:role/bijit-outbound-role-penguin")
    .function("bijit-outbound-callback-penguin")
    .cause("no_identity_allow");

    t.case(
        "SSM GetParameter: CLI wrapper, redacted account \"userid\"",
        "An error occurred (AccessDeniedException) when calling the GetParameter operation: User: arn:aws:sts::userid:assumed-role/Slackbot-FastAPI-Lambda-role-suc778in/Slackbot-FastAPI-Lambda is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:ap-northeast-2:userid:parameter/slackapi/BOT_TOKEN because no identity-based policy allows the ssm:GetParameter action",
    )
    .action("ssm:GetParameter")
    .resource("arn:aws:ssm:ap-northeast-2:userid:parameter/slackapi/BOT_TOKEN")
    .reason(Implicit(Identity))
    .error_code("AccessDeniedException")
    .operation("GetParameter")
    .caller_iam("arn:aws:iam::userid:role/Slackbot-FastAPI-Lambda-role-suc778in")
    .function("Slackbot-FastAPI-Lambda")
    .cause("no_identity_allow");

    t.case(
        "KMS: ciphertext refers to a key that does not exist or may not be used",
        "The ciphertext refers to a customer master key that does not exist, does not exist in this account, or you do not have permission to access it.",
    )
    .family(Bare)
    .action("kms:Decrypt")
    .reason(Unstated)
    .kind(Kind::AccessDenied);

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2a. Query/XML protocol, SQS's legacy sentence, the PHP SDK wrapper, access-undenied's other
// legacy forms
// ---------------------------------------------------------------------------------------------

#[test]
fn xml_sqs_php_and_other_legacy_forms() {
    let mut t = Table::default();

    t.case(
        "XML ErrorResponse (Route 53, ruby_route_53#16): the Message element's sentence",
        r#"<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2011-05-05/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/MyUser is not authorized to perform: route53:ListHostedZones</Message></Error><RequestId>c87e019b-1c5e-11e1-9388-b50d1a7693b8</RequestId></ErrorResponse>"#,
    )
    .action("route53:ListHostedZones")
    .reason(Unstated)
    .caller("arn:aws:iam::123456789012:user/MyUser");

    t.case(
        "SQS legacy: \"Access to the resource <queue URL> is denied.\"",
        "Access to the resource https://sqs.us-east-1.amazonaws.com/123456789012/q is denied.",
    )
    .family(Bare)
    .resource("arn:aws:sqs:us-east-1:123456789012:q")
    .reason(Unstated)
    .kind(Kind::AccessDenied)
    .cause("unknown");

    t.case(
        "SQS legacy in the CLI wrapper: the operation names the action",
        "An error occurred (AccessDenied) when calling the ReceiveMessage operation: Access to the resource https://sqs.us-east-1.amazonaws.com/123456789012/q is denied.",
    )
    .family(Bare)
    .action("sqs:ReceiveMessage")
    .resource("arn:aws:sqs:us-east-1:123456789012:q")
    .error_code("AccessDenied")
    .operation("ReceiveMessage");

    t.case(
        "SQS legacy naming only the endpoint (no account or queue): resource unknown",
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the ReceiveMessage operation: Access to the resource https://eu-west-3.queue.amazonaws.com/ is denied.",
    )
    .family(Bare)
    .action("sqs:ReceiveMessage")
    .no_resource()
    .error_code("AccessDenied");

    t.case(
        "PHP SDK wrapper: Error executing \"ReceiveMessage\" on <url>; AWS HTTP error: ... AccessDenied",
        "Error executing \"ReceiveMessage\" on \"https://sqs.us-east-1.amazonaws.com/123456789012/q\"; AWS HTTP error: Client error: `POST https://sqs.us-east-1.amazonaws.com/123456789012/q` resulted in a `403 Forbidden` response: AccessDenied (client): Access to the resource https://sqs.us-east-1.amazonaws.com/123456789012/q is denied.",
    )
    .family(Bare)
    .action("sqs:ReceiveMessage")
    .resource("arn:aws:sqs:us-east-1:123456789012:q")
    .error_code("AccessDenied")
    .operation("ReceiveMessage")
    .kind(Kind::AccessDenied);

    t.case(
        "access-undenied legacy: \"is not authorized to access this resource\"",
        "User: arn:aws:iam::123456789012:user/Bob is not authorized to access this resource",
    )
    .family(Bare)
    .reason(Unstated)
    .kind(Kind::AccessDenied);

    t.case(
        "access-undenied legacy: \"Principal .. is not allowed to execute .. on the resource\"",
        "Principal arn:aws:iam::123456789012:user/Bob is not allowed to execute lambda:InvokeFunction on the resource",
    )
    .family(Bare)
    .reason(Unstated)
    .kind(Kind::AccessDenied);

    t.case(
        "access-undenied legacy: \"Not authorized to access resource ...\"",
        "Not authorized to access resource arn:aws:s3:::amzn-s3-demo-bucket1",
    )
    .family(Bare)
    .reason(Unstated)
    .kind(Kind::AccessDenied);

    t.case(
        "access-undenied legacy: \"No access to any requested resource\"",
        "No access to any requested resource",
    )
    .family(Bare)
    .reason(Unstated)
    .kind(Kind::AccessDenied);

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2a. Wrappers around the Lambda sentences: Terraform (Go SDK), CloudFormation new and old,
// the console
// ---------------------------------------------------------------------------------------------

#[test]
fn iac_and_console_wrappers() {
    let mut t = Table::default();

    t.case(
        "Terraform: Go SDK wrapper around CreateNetworkInterface on EC2",
        "Error: creating Lambda Function (nhs-hometest-dev1-api2-handler): operation error Lambda: CreateFunction, https response error StatusCode: 400, RequestID: 1d444545-512a-490c-b759-3af233f5e51f, InvalidParameterValueException: The provided execution role does not have permissions to call CreateNetworkInterface on EC2",
    )
    .lambda(LambdaError::RoleLacks {
        operation: "CreateNetworkInterface".into(),
        service: "EC2".into(),
    })
    .action("ec2:CreateNetworkInterface")
    .error_code("InvalidParameterValueException")
    .operation("CreateFunction")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(VPC_ROLE);

    t.case(
        "CloudFormation (serverless-sns-sqs-lambda#705): Resource handler returned message, HandlerErrorCode",
        "Resource handler returned message: \"Invalid request provided: The provided execution role does not have permissions to call ReceiveMessage on SQS (Service: Lambda, Status Code: 400, HandlerErrorCode: InvalidRequest)",
    )
    .lambda(LambdaError::RoleLacks {
        operation: "ReceiveMessage".into(),
        service: "SQS".into(),
    })
    .action("sqs:ReceiveMessage")
    .error_code("InvalidRequest")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(SQS_ROLE);

    t.case(
        "older CloudFormation (aws-cdk#6770): (Service: AWSLambda; ...; Error Code: ...; Request ID: ...)",
        "The provided execution role does not have permissions to call ReceiveMessage on SQS (Service: AWSLambda; Status Code: 400; Error Code: InvalidParameterValueException; Request ID: 19af6e68-d98a-421a-ad4b-af20c8a757e9)",
    )
    .lambda(LambdaError::RoleLacks {
        operation: "ReceiveMessage".into(),
        service: "SQS".into(),
    })
    .action("sqs:ReceiveMessage")
    .error_code("InvalidParameterValueException")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(SQS_ROLE);

    t.case(
        "console: Couldn't configure trigger for queue ... Error message: ...",
        "Couldn't configure trigger for queue. Error code: InvalidParameterValueException. Error message: The provided execution role does not have permissions to call ReceiveMessage on SQS",
    )
    .action("sqs:ReceiveMessage")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(SQS_ROLE);

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2b rows 1, 1b, 1c, 3, 5, 6, 6b: `... execution role does not have permissions to call <Op> on
// <SERVICE>`
// ---------------------------------------------------------------------------------------------

#[test]
fn lambda_role_lacks_permissions() {
    let mut t = Table::default();

    t.case(
        "2b row 1: ReceiveMessage on SQS (event source mapping)",
        "The provided execution role does not have permissions to call ReceiveMessage on SQS",
    )
    .lambda(LambdaError::RoleLacks {
        operation: "ReceiveMessage".into(),
        service: "SQS".into(),
    })
    .action("sqs:ReceiveMessage")
    .reason(Implicit(Identity))
    .no_resource()
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(SQS_ROLE)
    .fix_target("identity_policy");

    t.case(
        "2b row 1b: \"The function execution role\" wording",
        "The function execution role does not have permissions to call ReceiveMessage on SQS",
    )
    .action("sqs:ReceiveMessage")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(SQS_ROLE);

    t.case(
        "2b row 1c: DeleteMessage on SQS (serverless-iam-roles-per-function#21)",
        "The provided execution role does not have permissions to call DeleteMessage on SQS",
    )
    .action("sqs:DeleteMessage")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(SQS_ROLE);

    t.case(
        "2b row 3: CreateNetworkInterface on EC2 (VpcConfig)",
        "The provided execution role does not have permissions to call CreateNetworkInterface on EC2",
    )
    .action("ec2:CreateNetworkInterface")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(VPC_ROLE)
    .fix_target("identity_policy");

    t.case(
        "2b row 5: PutTraceSegments on XRAY (active tracing)",
        "The provided execution role does not have permissions to call PutTraceSegments on XRAY",
    )
    .lambda(LambdaError::RoleLacks {
        operation: "PutTraceSegments".into(),
        service: "XRAY".into(),
    })
    .action("xray:PutTraceSegments")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(XRAY_POLICY);

    t.case(
        "2b row 6: SendMessage on SQS (dead-letter queue / on-failure destination): no managed policy",
        "The provided execution role does not have permissions to call SendMessage on SQS",
    )
    .action("sqs:SendMessage")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .no_managed()
    .fix_target("identity_policy");

    t.case(
        "2b row 6b: Publish on SNS (dead-letter topic): no managed policy",
        "The provided execution role does not have permissions to call Publish on SNS",
    )
    .action("sns:Publish")
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .no_managed();

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2b rows 2, 2b: `Cannot access stream <arn>. Please ensure the role can perform ...`
// ---------------------------------------------------------------------------------------------

#[test]
fn lambda_cannot_access_stream() {
    let mut t = Table::default();

    t.case(
        "2b row 2: DynamoDB stream, four actions listed",
        "Cannot access stream arn:aws:dynamodb:ap-northeast-2:527478947915:table/serverless_1/stream/2020-10-21T05:15:39.587. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.",
    )
    .lambda(LambdaError::CannotAccessStream {
        stream: some(
            "arn:aws:dynamodb:ap-northeast-2:527478947915:table/serverless_1/stream/2020-10-21T05:15:39.587",
        ),
        operations: vec![
            "GetRecords".into(),
            "GetShardIterator".into(),
            "DescribeStream".into(),
            "ListStreams".into(),
        ],
    })
    .action("dynamodb:GetRecords")
    .actions(&[
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:DescribeStream",
        "dynamodb:ListStreams",
    ])
    .resource(
        "arn:aws:dynamodb:ap-northeast-2:527478947915:table/serverless_1/stream/2020-10-21T05:15:39.587",
    )
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(DDB_ROLE)
    .fix_target("identity_policy");

    t.case(
        "2b row 2b: the same template with a Kinesis stream ARN (unverified verbatim)",
        "Cannot access stream arn:aws:kinesis:us-east-1:123456789012:stream/orders. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.",
    )
    .action("kinesis:GetRecords")
    .actions(&[
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:DescribeStream",
        "kinesis:ListStreams",
    ])
    .resource("arn:aws:kinesis:us-east-1:123456789012:stream/orders")
    .kind(Kind::TriggerSetup)
    .managed(KINESIS_ROLE);

    t.case(
        "2b row 2b: the IoT write-up's elided Kinesis text (no ARN, list cut with ...)",
        "An error occurred when creating the trigger: Cannot access stream... Please ensure the role can perform the GetRecords, GetShardIterator... actions on your stream.",
    )
    .action("kinesis:GetRecords")
    .no_resource()
    .kind(Kind::TriggerSetup)
    .cause("no_identity_allow")
    .managed(KINESIS_ROLE);

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2b rows 4, 4b: the execution role's trust policy
// ---------------------------------------------------------------------------------------------

#[test]
fn lambda_trust_policy() {
    let mut t = Table::default();

    t.case(
        "2b row 4: the role cannot be assumed by Lambda",
        "The role defined for the function cannot be assumed by Lambda.",
    )
    .lambda(LambdaError::TrustLambda)
    .action("sts:AssumeRole")
    .kind(Kind::TriggerSetup)
    .cause("trust_policy")
    .fix_target("trust_policy");

    t.case(
        "2b row 4: in the CLI wrapper of CreateFunction",
        "An error occurred (InvalidParameterValueException) when calling the CreateFunction operation: The role defined for the function cannot be assumed by Lambda.",
    )
    .lambda(LambdaError::TrustLambda)
    .action("sts:AssumeRole")
    .error_code("InvalidParameterValueException")
    .operation("CreateFunction")
    .kind(Kind::TriggerSetup)
    .cause("trust_policy")
    .fix_target("trust_policy");

    t.case(
        "2b row 4b: \"Please add Lambda as a Trusted Entity\"",
        "Please add Lambda as a Trusted Entity",
    )
    .lambda(LambdaError::TrustLambda)
    .action("sts:AssumeRole")
    .kind(Kind::TriggerSetup)
    .cause("trust_policy")
    .fix_target("trust_policy");

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2b rows 7, 7b, 7c: KMS and the function's environment variables
// ---------------------------------------------------------------------------------------------

#[test]
fn lambda_kms() {
    let mut t = Table::default();

    t.case(
        "2b row 7: KMSAccessDeniedException, environment variables",
        "KMSAccessDeniedException: Lambda was unable to decrypt the environment variables because KMS access was denied",
    )
    .lambda(LambdaError::KmsEnvDenied)
    .action("kms:Decrypt")
    .kind(Kind::Kms);

    t.case(
        "2b row 7: full runtime text quoting KMS's AccessDeniedException (curly apostrophe)",
        "Lambda was unable to decrypt the environment variables because KMS access was denied. Please check the function’s KMS key settings. KMS Exception: AccessDeniedExceptionKMS Message: The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
    )
    .lambda(LambdaError::KmsEnvDenied)
    .action("kms:Decrypt")
    .kind(Kind::Kms);

    t.case(
        "2b row 7: full runtime text quoting UnrecognizedClientException, old service wrapper",
        "Lambda was unable to decrypt the environment variables because KMS access was denied. Please check the function's KMS key settings. KMS Exception: UnrecognizedClientExceptionKMS Message: The security token included in the request is invalid. (Service: AWSLambda; Status Code: 502; Error Code: KMSAccessDeniedException; Request ID: 5b2e4a1c-1d2e-4f5a-8b9c-0d1e2f3a4b5c)",
    )
    .lambda(LambdaError::KmsEnvDenied)
    .action("kms:Decrypt")
    .error_code("KMSAccessDeniedException")
    .kind(Kind::Kms);

    t.case(
        "2b row 7b: KMSDisabledException, the key is disabled",
        "KMSDisabledException: Lambda was unable to decrypt the environment variables because the KMS key used is disabled. Please check the function's KMS key settings.",
    )
    .lambda(LambdaError::KmsDisabled)
    .action("kms:Decrypt")
    .kind(Kind::Kms)
    .cause("key_disabled");

    t.case(
        "2b row 7c: the KMS key is invalid for CreateGrant",
        "Lambda was unable to configure access to your environment variables because the KMS key is invalid for CreateGrant.",
    )
    .lambda(LambdaError::KmsCreateGrant)
    .action("kms:CreateGrant")
    .kind(Kind::Kms);

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// 2b rows 8 to 11: who may invoke the function
// ---------------------------------------------------------------------------------------------

#[test]
fn invoke_permissions() {
    let mut t = Table::default();

    t.case(
        "2b row 8: S3 notification to a function, unable to validate destinations",
        "Unable to validate the following destination configurations",
    )
    .lambda(LambdaError::S3Destination { queue: false })
    .action("lambda:InvokeFunction")
    .kind(Kind::InvokePermission)
    .cause("no_resource_allow")
    .principal("s3.amazonaws.com")
    .fix_target("function_policy");

    t.case(
        "2b row 8: in the CLI wrapper of PutBucketNotificationConfiguration",
        "An error occurred (InvalidArgument) when calling the PutBucketNotificationConfiguration operation: Unable to validate the following destination configurations",
    )
    .lambda(LambdaError::S3Destination { queue: false })
    .action("lambda:InvokeFunction")
    .error_code("InvalidArgument")
    .operation("PutBucketNotificationConfiguration")
    .kind(Kind::InvokePermission)
    .principal("s3.amazonaws.com");

    t.case(
        "2b row 8: S3 notification to a queue, the queue policy does not allow S3",
        "Unable to validate the following destination configurations. Permissions on the destination queue do not allow S3 to publish notifications from this bucket.",
    )
    .lambda(LambdaError::S3Destination { queue: true })
    .action("sqs:SendMessage")
    .kind(Kind::InvokePermission)
    .principal("s3.amazonaws.com");

    t.case(
        "2b row 9: API Gateway execution log, invalid permissions on Lambda function",
        "Execution failed due to configuration error: Invalid permissions on Lambda function",
    )
    .lambda(LambdaError::ApiGatewayInvoke)
    .action("lambda:InvokeFunction")
    .kind(Kind::InvokePermission)
    .cause("no_resource_allow")
    .principal("apigateway.amazonaws.com")
    .fix_target("function_policy");

    // https://repost.aws/knowledge-center/api-gateway-http-lambda-integrations (the
    // integrationError of an HTTP API's access log).
    t.case(
        "HTTP API access log: the integration could not call its function",
        "The IAM role configured on the integration or API Gateway doesn't have permissions to call the integration. Check the permissions and try again.",
    )
    .lambda(LambdaError::ApiGatewayInvoke)
    .action("lambda:InvokeFunction")
    .kind(Kind::InvokePermission)
    .cause("no_resource_allow")
    .principal("apigateway.amazonaws.com")
    .fix_target("function_policy");

    t.case(
        "2b row 10: ELB target group may not invoke the function",
        "elasticloadbalancing principal does not have permission to invoke arn:aws:lambda:us-east-1:123456789012:function:f from target group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0123456789abcdef",
    )
    .lambda(LambdaError::ElbInvoke {
        function_arn: some("arn:aws:lambda:us-east-1:123456789012:function:f"),
    })
    .action("lambda:InvokeFunction")
    .resource("arn:aws:lambda:us-east-1:123456789012:function:f")
    .kind(Kind::InvokePermission)
    .cause("no_resource_allow")
    .principal("elasticloadbalancing.amazonaws.com")
    .diag_function("f")
    .fix_target("function_policy");

    t.case(
        "2b row 10: in CloudFormation's wrapper (ElasticLoadBalancingV2, HandlerErrorCode AccessDenied)",
        "Resource handler returned message: \"elasticloadbalancing principal does not have permission to invoke arn:aws:lambda:us-east-1:123456789012:function:f from target group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0123456789abcdef (Service: ElasticLoadBalancingV2, Status Code: 403, HandlerErrorCode: AccessDenied)\"",
    )
    .action("lambda:InvokeFunction")
    .error_code("AccessDenied")
    .kind(Kind::InvokePermission)
    .principal("elasticloadbalancing.amazonaws.com")
    .diag_function("f");

    t.case(
        "2b row 10: cut inside the function ARN (the notes' own `arn:aws:lambda....`)",
        "elasticloadbalancing principal does not have permission to invoke arn:aws:lambda:us-east-1:123456789012:func...",
    )
    .action("lambda:InvokeFunction")
    .no_resource()
    .truncated()
    .kind(Kind::InvokePermission)
    .principal("elasticloadbalancing.amazonaws.com")
    .no_diag_function();

    t.case(
        "2b row 11: an IAM user may not invoke (resource is the bare function name)",
        "User: arn:aws:iam::123456789012:user/developer is not authorized to perform: lambda:InvokeFunction on resource: my-function",
    )
    .family(Authorization)
    .action("lambda:InvokeFunction")
    .resource("my-function")
    .reason(Unstated)
    .caller_iam("arn:aws:iam::123456789012:user/developer")
    .kind(Kind::AccessDenied)
    .cause("unknown")
    .principal("arn:aws:iam::123456789012:user/developer");

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// Which assumed-role sessions name a function (the IAM guide's sentence with the session names
// the notes show: a function's name, the Go SDK default, and the shapes that are never one)
// ---------------------------------------------------------------------------------------------

#[test]
fn function_from_session_name() {
    let mut t = Table::default();
    let msg = |session: &str| {
        format!(
            "User: arn:aws:sts::123456789012:assumed-role/app-role/{session} is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:123456789012:orders because no identity-based policy allows the sqs:SendMessage action"
        )
    };

    t.case("session: a function's name", &msg("orders-fn"))
        .caller_iam("arn:aws:iam::123456789012:role/app-role")
        .function("orders-fn")
        .diag_function("orders-fn")
        .principal("arn:aws:iam::123456789012:role/app-role")
        .fix_target("identity_policy");
    t.case(
        "session: Go SDK default aws-go-sdk-<digits>",
        &msg("aws-go-sdk-1722511821294449000"),
    )
    .caller_iam("arn:aws:iam::123456789012:role/app-role")
    .no_function();
    t.case("session: digits only", &msg("1631196079303620000"))
        .no_function();
    t.case("session: an e-mail address", &msg("alice@example.com"))
        .caller_iam("arn:aws:iam::123456789012:role/app-role")
        .no_function();
    t.case("session: an EC2 instance id", &msg("i-0123456789abcdef0"))
        .no_function();
    t.case("session: Lambda's own poller", &msg("awslambda_123_456"))
        .no_function();

    t.finish();
}

// ---------------------------------------------------------------------------------------------
// Not denials
// ---------------------------------------------------------------------------------------------

#[test]
fn not_denials() {
    let mut t = Table::default();

    t.not_denial("empty string", "");
    t.not_denial("white space only", "  \n\t ");
    t.not_denial("Lambda START line", "START RequestId: x Version: $LATEST");
    t.not_denial(
        "Lambda END line",
        "END RequestId: 8f5d3c1a-2b4e-4f6a-9c8d-7e6f5a4b3c2d",
    );
    t.not_denial(
        "Lambda REPORT line",
        "REPORT RequestId: 8f5d3c1a-2b4e-4f6a-9c8d-7e6f5a4b3c2d Duration: 12.34 ms Billed Duration: 13 ms Memory Size: 128 MB Max Memory Used: 70 MB",
    );
    t.not_denial("an application INFO line", "INFO processed 10 records");
    t.not_denial(
        "a success mentioning authorization",
        "alice is authorized to perform s3:GetObject on arn:aws:s3:::amzn-s3-demo-bucket1/object-name",
    );

    t.finish();
}

//! Message grammar and party cases for the Lambda integrations of `rules/integrations.json` and
//! the principal kinds: every text is quoted from the public source named beside it (ids and
//! names as the source gives them). Each case is parsed and diagnosed from the message alone and
//! checked field by field; the test fails once, naming every case that failed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use crate::lint;

use whydenied::parse::Parser;
use whydenied::rules::Rules;
use whydenied::suggest::analyse;

/// What a case expects; `None` fields are not checked.
#[derive(Default)]
struct Want {
    integration: Option<&'static str>,
    kind: Option<&'static str>,
    cause: Option<&'static str>,
    action: Option<&'static str>,
    principal: Option<Option<&'static str>>,
    function: Option<&'static str>,
    resource: Option<&'static str>,
    target: Option<&'static str>,
    account: Option<&'static str>,
    /// A command of the fix starts with these words.
    command: Option<&'static [&'static str]>,
    /// The fix's notes mention this.
    note: Option<&'static str>,
}

fn cases() -> Vec<(&'static str, &'static str, Want)> {
    vec![
        (
            "https://github.com/app-sre/qontract-reconcile/pull/1291",
            "Error: Error creating Cloudwatch log subscription filter: InvalidParameterException: Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function.",
            Want {
                integration: Some("logs-subscription"),
                kind: Some("invoke_permission"),
                cause: Some("no_resource_allow"),
                action: Some("lambda:InvokeFunction"),
                principal: Some(Some("logs.amazonaws.com")),
                target: Some("function_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/aws/aws-cdk/issues/26481",
            "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com. (Service: AWSSecretsManager; Status Code: 400; Error Code: AccessDeniedException",
            Want {
                integration: Some("secretsmanager-rotation"),
                kind: Some("invoke_permission"),
                action: Some("lambda:InvokeFunction"),
                principal: Some(Some("secretsmanager.amazonaws.com")),
                target: Some("function_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/aws-samples/aws-secrets-manager-rotation-lambdas/issues/53",
            "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: Access to KMS is not allowed",
            Want {
                integration: Some("secretsmanager-kms"),
                kind: Some("access_denied"),
                action: Some("kms:Decrypt"),
                target: Some("identity_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/andresriancho/aws-backup/issues/5",
            "Error: error reading Secrets Manager Secret Version: AccessDeniedException: Access to KMS is not allowed",
            Want {
                integration: Some("secretsmanager-kms"),
                action: Some("kms:Decrypt"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/aws/aws-cdk/issues/10010",
            "[ERROR] ClientError: An error occurred (AccessDeniedException) when calling the PutItem operation: KMS key access denied error: com.amazonaws.services.kms.model.AWSKMSException: The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: xxxx-xxx-xxx-xxxxxx)",
            Want {
                integration: Some("dynamodb-kms"),
                kind: Some("access_denied"),
                action: Some("kms:Decrypt"),
                target: Some("identity_policy"),
                ..Want::default()
            },
        ),
        (
            "https://repost.aws/knowledge-center/api-gateway-http-lambda-integrations",
            "The IAM role configured on the integration or API Gateway doesn't have permissions to call the integration. Check the permissions and try again.",
            Want {
                kind: Some("invoke_permission"),
                action: Some("lambda:InvokeFunction"),
                principal: Some(Some("apigateway.amazonaws.com")),
                target: Some("function_policy"),
                ..Want::default()
            },
        ),
        (
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html",
            "The request was denied due to a VPC endpoint policy",
            Want {
                integration: Some("vpc-endpoint"),
                cause: Some("no_vpc_endpoint_allow"),
                target: Some("vpc_endpoint_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/awsdocs/iam-user-guide/blob/main/doc_source/troubleshoot_access-denied.md",
            "User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform: codecommit:ListRepositories because no VPC endpoint policy allows the codecommit:ListRepositories action",
            Want {
                cause: Some("no_vpc_endpoint_allow"),
                action: Some("codecommit:ListRepositories"),
                principal: Some(Some("arn:aws:iam::123456789012:user/JohnDoe")),
                target: Some("vpc_endpoint_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/aws-samples/aws-serverless-batch-architecture/issues/1",
            "User `arn:aws:sts::XXXXXXXXX:assumed-role/sam-batch-test-SendEmailFunctionRole-XXXXXX/sam-batch-test-SendEmailFunction-1FHgDhZRZNoE' is not authorized to perform `ses:SendEmail' on resource `arn:aws:ses:us-west-1:XXXXXXXX:identity/my@customdomain.com'",
            Want {
                action: Some("ses:SendEmail"),
                resource: Some("arn:aws:ses:us-west-1:XXXXXXXX:identity/my@customdomain.com"),
                function: Some("sam-batch-test-SendEmailFunction-1FHgDhZRZNoE"),
                principal: Some(Some(
                    "arn:aws:iam::XXXXXXXXX:role/sam-batch-test-SendEmailFunctionRole-XXXXXX",
                )),
                ..Want::default()
            },
        ),
        (
            "https://github.com/ministryofjustice/analytical-platform/issues/6944",
            "smtplib.SMTPDataError: (554, b\"Access denied: User `arn:aws:iam::381491960855:user/mwaa-ses' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:eu-west-2:381491960855:identity/jacob.woffenden@justice.gov.uk'\")",
            Want {
                action: Some("ses:SendRawEmail"),
                principal: Some(Some("arn:aws:iam::381491960855:user/mwaa-ses")),
                resource: Some(
                    "arn:aws:ses:eu-west-2:381491960855:identity/jacob.woffenden@justice.gov.uk",
                ),
                ..Want::default()
            },
        ),
        (
            "https://github.com/aws-samples/bedrock-access-gateway/issues/127",
            "Resource handler returned message: \"Lambda does not have permission to access the ECR image. Check the ECR permissions. (Service: Lambda, Status Code: 403, Request ID: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) (SDK Attempt Count: 1)\" (RequestToken: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, HandlerErrorCode: AccessDenied)",
            Want {
                integration: Some("lambda-ecr-image"),
                kind: Some("trigger_setup"),
                action: Some("ecr:BatchGetImage"),
                principal: Some(Some("lambda.amazonaws.com")),
                target: Some("repository_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/aws/aws-cdk/issues/27007",
            "The function does not have permission to access the specified image.",
            Want {
                integration: Some("lambda-ecr-image"),
                target: Some("repository_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/crucial-project/serverless-shell/issues/2",
            "An error occurred (AccessDeniedException) when calling the CreateFunction operation: User: arn:aws:iam::281655567048:root is not authorized to perform: lambda:GetLayerVersion on resource: arn:aws:lambda:us-east-1:667743079194:layer:serverless-bash:35 because no resource-based policy allows the lambda:GetLayerVersion action",
            Want {
                integration: Some("layer-permission"),
                cause: Some("no_resource_allow"),
                action: Some("lambda:GetLayerVersion"),
                resource: Some("arn:aws:lambda:us-east-1:667743079194:layer:serverless-bash:35"),
                target: Some("layer_policy"),
                account: Some("667743079194"),
                command: Some(&[
                    "aws",
                    "lambda",
                    "add-layer-version-permission",
                    "--layer-name",
                    "serverless-bash",
                    "--version-number",
                    "35",
                ]),
                ..Want::default()
            },
        ),
        (
            "https://github.com/brefphp/bref/issues/601",
            "An error occurred: ApiLambdaFunction - User: xxx is not authorized to perform: lambda:GetLayerVersion on resource: arn:aws:lambda:eu-west-1:209497400698:layer:php-74:6 (Service: AWSLambdaInternal; Status Code: 403; Error Code: AccessDeniedException; Request ID: 50006e03-e277-4f31-8785-3b942b6b8612).",
            Want {
                integration: Some("layer-permission"),
                action: Some("lambda:GetLayerVersion"),
                resource: Some("arn:aws:lambda:eu-west-1:209497400698:layer:php-74:6"),
                target: Some("layer_policy"),
                account: Some("209497400698"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/pahud/cdk-efs-assets/issues/98",
            "EFSMountFailureException: The function couldn't mount the Amazon EFS file system",
            Want {
                integration: Some("efs-mount"),
                action: Some("elasticfilesystem:ClientMount"),
                target: Some("identity_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/awslabs/service-workbench-on-aws/issues/1136",
            "PreSignUp invocation failed due to error AccessDeniedException.",
            Want {
                integration: Some("cognito-trigger"),
                kind: Some("invoke_permission"),
                principal: Some(Some("cognito-idp.amazonaws.com")),
                action: Some("lambda:InvokeFunction"),
                target: Some("function_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/aws/aws-cli/issues/2256",
            "arn:aws:lambda:us-east-1:061240556736:function:dev-portal-jm13-dev-authEmailTrigger invocation failed with error User: arn:aws:sts::745623467555:assumed-role/awscognitoidentityproviderservice-ec2-InstanceRole-QACF32J6RTZ3/i-081606d9e9943df60 is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:061240556736:function:dev-portal-jm13-dev-authEmailTrigger (Service:",
            Want {
                integration: Some("cognito-trigger"),
                principal: Some(Some("cognito-idp.amazonaws.com")),
                function: Some("dev-portal-jm13-dev-authEmailTrigger"),
                resource: Some(
                    "arn:aws:lambda:us-east-1:061240556736:function:dev-portal-jm13-dev-authEmailTrigger",
                ),
                target: Some("function_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/hashicorp/terraform-provider-aws/issues/34259",
            "Error: Error creating SES rule: InvalidLambdaFunction: Could not invoke Lambda function: arn:aws:lambda:us-east-1:999999999:function:PostMeldReportInbox",
            Want {
                integration: Some("ses-receipt-rule"),
                principal: Some(Some("ses.amazonaws.com")),
                function: Some("PostMeldReportInbox"),
                resource: Some("arn:aws:lambda:us-east-1:999999999:function:PostMeldReportInbox"),
                target: Some("function_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/awslabs/aws-automated-incident-response-and-forensics/issues/13",
            "{\"ErrorCode\":\"AccessDeniedException\",\"ErrorMessage\":\"User: sns.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:xxxx:xxxx:function:SlackNotificationLambda because no resource-based policy allows the lambda:InvokeFunction action\"}",
            Want {
                integration: Some("service-invoke"),
                kind: Some("invoke_permission"),
                principal: Some(Some("sns.amazonaws.com")),
                function: Some("SlackNotificationLambda"),
                target: Some("function_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/mozilla-iam/cis/issues/33",
            "Error: function idvtoidv: AccessDeniedException: User: arn:aws:sts::656532927350:assumed-role/CISDeveloper/nemo is not authorized to perform: iam:PassRole on resource: arn:aws:iam::656532927350:role/CISLambdaFunctionRoles-IDVtoIDV-8AMFBTKC70WN",
            Want {
                integration: Some("pass-role"),
                action: Some("iam:PassRole"),
                principal: Some(Some("arn:aws:iam::656532927350:role/CISDeveloper")),
                resource: Some(
                    "arn:aws:iam::656532927350:role/CISLambdaFunctionRoles-IDVtoIDV-8AMFBTKC70WN",
                ),
                target: Some("identity_policy"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/hashicorp/terraform-provider-aws/issues/21046",
            "Error: error creating Lambda Function (1): AccessDeniedException: status code: 403, request id: d7aac889-0404-4234-b885-5608bbea4a97",
            Want {
                function: Some("1"),
                ..Want::default()
            },
        ),
        (
            "https://github.com/ministryofjustice/aws-root-account/pull/675",
            "Failed to rotate the secret \"apex/app/system-root-password\". User: arn:aws:sts::573115265413:assumed-role/AWSReservedSSO_modernisation-platform-developer_1d9bd12b9fbfac0b/gcw85@digital.justice.gov.uk is not authorized to perform: secretsmanager:RotateSecret on resource: arn:aws:secretsmanager:eu-west-2:573115265413:secret:apex/app/system-root-password-Dl5EU1 because no identity-based policy allows the secretsmanager:RotateSecret action",
            Want {
                action: Some("secretsmanager:RotateSecret"),
                target: Some("identity_policy"),
                note: Some("permission set modernisation-platform-developer"),
                ..Want::default()
            },
        ),
    ]
}

#[test]
fn integration_messages_name_the_party_and_the_need() {
    let rules = Rules::embedded().unwrap();
    let parser = Parser::new(&rules).unwrap();
    let mut failures = Vec::new();
    let mut docs = Vec::new();
    let all = cases();
    for (source, text, want) in &all {
        let Some(d) = parser.message(text) else {
            failures.push(format!("{source}: not recognised: {text}"));
            continue;
        };
        let diag = analyse(&d, &rules, None);
        let fix = serde_json::to_value(&diag.fix).unwrap();
        for (k, doc) in lint::documents(&fix).into_iter().enumerate() {
            docs.push((format!("{source} {k}"), doc));
        }
        let mut check = |field: &str, got: Option<String>, want: Option<&str>| {
            if got.as_deref() != want {
                failures.push(format!("{source}: {field}: got {got:?}, want {want:?}"));
            }
        };
        if let Some(i) = want.integration {
            check("integration", d.integration.clone(), Some(i));
        }
        if let Some(k) = want.kind {
            check("kind", Some(diag.kind.as_str().to_string()), Some(k));
        }
        if let Some(c) = want.cause {
            check("cause", Some(diag.cause.to_string()), Some(c));
        }
        if let Some(a) = want.action {
            check("action", diag.action.clone(), Some(a));
        }
        if let Some(p) = want.principal {
            check("principal", diag.principal.clone(), p);
        }
        if let Some(f) = want.function {
            check("function", diag.function.clone(), Some(f));
        }
        if let Some(r) = want.resource {
            check("resource", diag.resource.clone(), Some(r));
        }
        if let Some(t) = want.target {
            check("fix.target", Some(diag.fix.target.to_string()), Some(t));
        }
        if let Some(a) = want.account {
            check("fix.account", diag.fix.account.clone(), Some(a));
        }
        if let Some(words) = want.command {
            let ok = diag.fix.commands.iter().any(|c| {
                let w = shlex::split(c).unwrap_or_default();
                w.len() >= words.len() && w.iter().zip(words.iter()).all(|(a, b)| a == b)
            });
            if !ok {
                failures.push(format!(
                    "{source}: no command starts with {words:?}: {:?}",
                    diag.fix.commands
                ));
            }
        }
        if let Some(n) = want.note
            && !diag.fix.notes.iter().any(|x| x.contains(n))
        {
            failures.push(format!(
                "{source}: no note mentions {n:?}: {:?}",
                diag.fix.notes
            ));
        }
        // Whatever the case, a suggested statement never grants to everyone unconditionally.
        for st in &diag.fix.all_statements {
            let p = st.get("Principal");
            let public =
                p == Some(&serde_json::json!("*")) || p == Some(&serde_json::json!({"AWS": "*"}));
            if public && st.get("Condition").is_none() {
                failures.push(format!("{source}: a public grant: {st}"));
            }
        }
    }
    match lint::lint(&docs) {
        Ok(bad) => failures.extend(bad),
        Err(e) => failures.push(e),
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// Principals that cannot be granted to as they stand: an unsigned request, a federated user,
/// a service-linked role.
#[test]
fn principals_without_an_editable_identity_policy() {
    let rules = Rules::embedded().unwrap();
    let parser = Parser::new(&rules).unwrap();
    // An unsigned request, as the Amazon Elasticsearch Service guide quotes it
    // (awsdocs/amazon-elasticsearch-service-developer-guide, doc_source/aes-handling-errors.md).
    let d = parser
        .message("\"User: anonymous is not authorized to perform: es:ESHttpGet\"")
        .unwrap();
    let diag = analyse(&d, &rules, None);
    assert_eq!(diag.principal, None);
    assert_eq!(diag.fix.target.as_str(), "none");
    assert!(diag.fix.all_statements.is_empty());
    // A federated user's session ARN keeps its form.
    let p =
        whydenied::policy::arn::Principal::parse("arn:aws:sts::444455556666:federated-user/bob")
            .unwrap();
    assert_eq!(p.iam_arn(), "arn:aws:sts::444455556666:federated-user/bob");
}

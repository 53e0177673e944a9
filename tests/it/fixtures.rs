//! Test data shared by several test files: one copy of each.

/// A CloudTrail event of a Lambda function's role denied `dynamodb:PutItem`, as CloudTrail
/// writes it (the message is the documented "no identity-based policy allows" form), with
/// `EVENT-ID` where each test puts its own event id.
pub const DENIED: &str = r#"{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"dynamodb.amazonaws.com","eventName":"PutItem","awsRegion":"eu-west-1","errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::111122223333:assumed-role/app-role/app-fn is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:111122223333:table/T because no identity-based policy allows the dynamodb:PutItem action","eventID":"EVENT-ID","recipientAccountId":"111122223333","userAgent":"Boto3/1.34 exec-env/AWS_Lambda_python3.12","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app-role/app-fn","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/app-role","accountId":"111122223333"}}}}"#;

/// [`DENIED`] with the event id `id`: one line of a JSON-lines export.
pub fn denied(id: &str) -> String {
    DENIED.replace("EVENT-ID", id)
}

//! Reading records: a CloudTrail record with its structured identity, records without errors
//! skipped cheaply, the `aws logs tail` prefix split off.

use super::*;
use crate::rules::Rules;

#[test]
fn cloudtrail_record_with_structured_identity() {
    let rules = Rules::embedded().unwrap();
    let p = Parser::new(&rules).unwrap();
    let rec = br#"{"eventVersion":"1.09","eventTime":"2024-08-02T08:30:00Z","eventSource":"organizations.amazonaws.com","eventName":"LeaveOrganization","awsRegion":"us-east-1","errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::999:assumed-role/r/aws-go-sdk-1 is not authorized to perform: organizations:LeaveOrganization on resource: * because no identity-based policy allows the organizations:LeaveOrganization action","eventID":"e1","recipientAccountId":"307578594326","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::307578594326:assumed-role/r/aws-go-sdk-1","accountId":"307578594326","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::307578594326:role/path/r","accountId":"307578594326"}}}}"#;
    let d = p.json(rec).unwrap().unwrap();
    assert_eq!(
        d.caller_iam.as_deref(),
        Some("arn:aws:iam::307578594326:role/path/r")
    );
    assert_eq!(d.account.as_deref(), Some("307578594326"));
    assert_eq!(d.action.as_deref(), Some("organizations:LeaveOrganization"));
    assert_eq!(d.function, None);
}

#[test]
fn records_without_errors_are_skipped_cheaply() {
    let rules = Rules::embedded().unwrap();
    let p = Parser::new(&rules).unwrap();
    assert!(
        p.json(br#"{"eventName":"GetObject","eventSource":"s3.amazonaws.com"}"#)
            .unwrap()
            .is_none()
    );
    assert!(p.json(b"{not json").unwrap().is_none());
    assert!(p.json(br#"{"errorCode":"AccessDenied""#).is_err());
}

#[test]
fn tail_prefix_is_split() {
    let (ts, msg, framed) =
        split_prefix("2026-09-01T21:42:57.837000+00:00 2026/09/01/[$LATEST]0cea [ERROR] x");
    assert_eq!(ts, Some("2026-09-01T21:42:57.837000+00:00"));
    assert_eq!(msg, "[ERROR] x");
    assert!(framed);
    let (ts, msg, framed) = split_prefix("2023-04-14T09:23:16.008Z\tid\tERROR\tInvoke Error");
    assert_eq!(ts, Some("2023-04-14T09:23:16.008Z"));
    assert_eq!(msg, "id\tERROR\tInvoke Error");
    assert!(!framed);
}

#[test]
fn a_data_event_names_the_bucket_owner() {
    let rules = Rules::embedded().unwrap();
    let p = Parser::new(&rules).unwrap();
    // The shape of CloudTrail's S3 data events (an object without owner, then its bucket);
    // the message is AWS's documented wording for a missing identity-based allow.
    let rec = |resources: &str| {
        format!(
            r#"{{"eventTime":"2026-11-20T23:10:05Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::111122223333:assumed-role/r/s is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" because no identity-based policy allows the s3:GetObject action","eventID":"e2","recipientAccountId":"111122223333","resources":{resources}}}"#
        )
    };
    let owner = |resources: &str| {
        p.json(rec(resources).as_bytes())
            .unwrap()
            .unwrap()
            .request
            .resource_account
    };
    assert_eq!(
        owner(r#"[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"},{"accountId":"444455556666","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"}]"#).as_deref(),
        Some("444455556666")
    );
    // No bucket: the first entry that names an owner; odd entries are passed over.
    assert_eq!(
        owner(r#"[7,{"type":"AWS::S3::Object","accountId":""},{"type":"AWS::KMS::Key","accountId":"777788889999"}]"#).as_deref(),
        Some("777788889999")
    );
    assert_eq!(owner(r#"{"not":"a list"}"#), None);
}

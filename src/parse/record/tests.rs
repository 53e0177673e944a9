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

/// A CloudTrail record of a denied `s3:GetObject` with one more field (`"name":value`); the
/// message is AWS's documented wording for a missing identity-based allow.
fn get_object_denied(field: &str) -> String {
    format!(
        r#"{{"eventTime":"2026-11-20T23:10:05Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::111122223333:assumed-role/r/s is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" because no identity-based policy allows the s3:GetObject action","eventID":"e2",{field},"recipientAccountId":"111122223333"}}"#
    )
}

#[test]
fn a_data_event_names_the_bucket_owner() {
    let rules = Rules::embedded().unwrap();
    let p = Parser::new(&rules).unwrap();
    // The shape of CloudTrail's S3 data events (an object without owner, then its bucket).
    let owner = |resources: &str| {
        p.json(get_object_denied(&format!(r#""resources":{resources}"#)).as_bytes())
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

#[test]
fn an_odd_identity_is_absent_not_fatal() {
    let rules = Rules::embedded().unwrap();
    let p = Parser::new(&rules).unwrap();
    let rec = |identity: &str| get_object_denied(&format!(r#""userIdentity":{identity}"#));
    let caller_iam = |identity: &str| {
        p.json(rec(identity).as_bytes())
            .unwrap()
            .unwrap()
            .caller_iam
    };
    let issuer = r#"{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/path/r","accountId":"111122223333"}}"#;
    assert_eq!(
        caller_iam(&format!(r#"{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/r/s","sessionContext":{issuer}}}"#)).as_deref(),
        Some("arn:aws:iam::111122223333:role/path/r")
    );
    // An AWS service's call names the service as the caller, from the identity alone.
    let caller = |identity: &str| p.json(rec(identity).as_bytes()).unwrap().unwrap().caller;
    let service = r#""type":"AWSService","invokedBy":"sns.amazonaws.com""#;
    assert_eq!(
        caller(&format!("{{{service}}}")).as_deref(),
        Some("sns.amazonaws.com")
    );
    // A repeated key, an identity of another type, a list: the identity is absent (the caller
    // comes from the message), the record is still read, and so are the fields after it.
    for odd in [
        format!(
            r#"{{{service},"type":"AWSService","sessionContext":{{"sessionIssuer":{{"arn":"x"}}}}}}"#
        ),
        r#""sns.amazonaws.com""#.to_string(),
        format!(r#"[{{{service}}},[1,2],{{"a":{{"b":[]}}}}]"#),
    ] {
        let d = p.json(rec(&odd).as_bytes()).unwrap().unwrap();
        assert_eq!(
            d.caller.as_deref(),
            Some("arn:aws:sts::111122223333:assumed-role/r/s"),
            "{odd}"
        );
        assert_eq!(d.account.as_deref(), Some("111122223333"), "{odd}");
    }
    // A repeated key deeper in: only that object is absent, the identity around it is read.
    assert_eq!(
        caller(&format!(
            r#"{{{service},"sessionContext":{{"sessionIssuer":{{"arn":"a","arn":"b"}},"x":1}}}}"#
        ))
        .as_deref(),
        Some("sns.amazonaws.com")
    );
    // Broken JSON inside the identity is still an error for the record.
    assert!(
        p.json(rec(r#"{"arn":"x","sessionContext":{"sessionIssuer":{"arn":}}}"#).as_bytes())
            .is_err()
    );
}

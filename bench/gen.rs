//! Benchmark data generator: realistic CloudTrail S3 delivery files and CloudWatch Logs exports.
//!
//! `cargo run --release --example bench-gen -- OUT_DIR [EVENTS] [FILES] [SEED] [DENIALS_PER_MILLE]`
//!
//! Writes `OUT_DIR/cloudtrail/.../*.json.gz` (gzip, one `{"Records":[...]}` line each, the field
//! set of real records: userIdentity with sessionContext, requestParameters and responseElements of
//! varying size, resources, tlsDetails...), `OUT_DIR/cloudwatch/<function>/000000.gz` (Lambda log
//! exports), and `OUT_DIR/manifest.json` with the number of events and of denials written, which
//! the benchmark checks against what `whydenied replay` finds. Deterministic for a given seed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark generator: a panic is its error report"
)]

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
    fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(n);
        s
    }
}

const ACCOUNT: &str = "111122223333";
const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"];
const FUNCTIONS: [&str; 8] = [
    "orders-api",
    "orders-worker",
    "invoice-render",
    "notifier",
    "ingest",
    "reporter",
    "auth-hook",
    "thumbnailer",
];
const AGENTS: [&str; 4] = [
    "Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#5.10.209-220.812.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.34",
    "aws-sdk-js/3.540.0 ua/2.0 os/linux#5.10.209-220.812.amzn2.x86_64 lang/js md/nodejs#20.11.1 api/dynamodb#3.540.0 exec-env/AWS_Lambda_nodejs20.x",
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
    "aws-sdk-go-v2/1.25.3 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/sqs#1.31.4 exec-env/AWS_Lambda_provided.al2023",
];

/// One normal (successful) event, as CloudTrail writes it.
fn event(r: &mut Rng, time: &str, region: &str) -> String {
    let f = r.pick(&FUNCTIONS);
    let role = format!("{f}-role");
    let (source, name, req, resp, read_only, category) = match r.below(9) {
        0 | 1 => {
            let key = format!("uploads/{}/{}.json", r.hex(8), r.hex(12));
            (
                "s3.amazonaws.com",
                "GetObject",
                format!(
                    r#"{{"bucketName":"acme-data-{ACCOUNT}","Host":"acme-data-{ACCOUNT}.s3.{region}.amazonaws.com","key":"{key}"}}"#
                ),
                "null".to_string(),
                true,
                "Data",
            )
        }
        2 => (
            "dynamodb.amazonaws.com",
            "PutItem",
            format!(
                r#"{{"tableName":"Orders","key":{{"pk":"ORDER#{}","sk":"ITEM#{}"}}}}"#,
                r.hex(10),
                r.below(50)
            ),
            "null".to_string(),
            false,
            "Data",
        ),
        3 => (
            "sqs.amazonaws.com",
            "ReceiveMessage",
            format!(
                r#"{{"queueUrl":"https://sqs.{region}.amazonaws.com/{ACCOUNT}/orders-queue","maxNumberOfMessages":10,"waitTimeSeconds":20,"attributeNames":["All"]}}"#
            ),
            "null".to_string(),
            true,
            "Data",
        ),
        4 => (
            "kms.amazonaws.com",
            "Decrypt",
            format!(
                r#"{{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{{"aws:lambda:FunctionArn":"arn:aws:lambda:{region}:{ACCOUNT}:function:{f}"}}}}"#
            ),
            "null".to_string(),
            true,
            "Management",
        ),
        5 => (
            "sts.amazonaws.com",
            "AssumeRole",
            format!(
                r#"{{"roleArn":"arn:aws:iam::{ACCOUNT}:role/{role}","roleSessionName":"{f}","durationSeconds":3600}}"#
            ),
            format!(
                r#"{{"credentials":{{"accessKeyId":"ASIA{}","sessionToken":"{}","expiration":"Nov 20, 2026, 11:00:00 AM"}},"assumedRoleUser":{{"assumedRoleId":"AROA{}:{f}","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{f}"}}}}"#,
                r.hex(16).to_uppercase(),
                {
                    let n = 360 + r.below(200) as usize;
                    r.hex(n)
                },
                r.hex(17).to_uppercase()
            ),
            true,
            "Management",
        ),
        6 => (
            "lambda.amazonaws.com",
            "GetFunction20150331v2",
            format!(r#"{{"functionName":"{f}"}}"#),
            "null".to_string(),
            true,
            "Management",
        ),
        7 => (
            "logs.amazonaws.com",
            "CreateLogStream",
            format!(
                r#"{{"logGroupName":"/aws/lambda/{f}","logStreamName":"2026/11/20/[$LATEST]{}"}}"#,
                r.hex(32)
            ),
            "null".to_string(),
            false,
            "Management",
        ),
        _ => (
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            format!(
                r#"{{"secretId":"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{f}/db-{}"}}"#,
                r.hex(6)
            ),
            "null".to_string(),
            true,
            "Management",
        ),
    };
    envelope(
        r, time, region, f, &role, source, name, &req, &resp, read_only, category, None,
    )
}

#[allow(
    clippy::too_many_arguments,
    reason = "one event's fields, in the order CloudTrail writes them"
)]
fn envelope(
    r: &mut Rng,
    time: &str,
    region: &str,
    f: &str,
    role: &str,
    source: &str,
    name: &str,
    req: &str,
    resp: &str,
    read_only: bool,
    category: &str,
    error: Option<(&str, &str)>,
) -> String {
    let agent = r.pick(&AGENTS);
    let err = match error {
        Some((code, msg)) => format!(
            r#""errorCode":"{code}","errorMessage":{},"#,
            serde_json::to_string(msg).unwrap()
        ),
        None => String::new(),
    };
    format!(
        concat!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROA{pid}:{f}","arn":"arn:aws:sts::{acct}:assumed-role/{role}/{f}","accountId":"{acct}","accessKeyId":"ASIA{key}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{pid}","arn":"arn:aws:iam::{acct}:role/{role}","accountId":"{acct}","userName":"{role}"}},"attributes":{{"creationDate":"{time}","mfaAuthenticated":"false"}}}}}},"#,
            r#""eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"{agent}",{err}"requestParameters":{req},"responseElements":{resp},"#,
            r#""requestID":"{rid}","eventID":"{eid}","readOnly":{ro},"resources":[{{"accountId":"{acct}","type":"AWS::Lambda::Function","ARN":"arn:aws:lambda:{region}:{acct}:function:{f}"}}],"eventType":"AwsApiCall","managementEvent":{mgmt},"recipientAccountId":"{acct}","eventCategory":"{category}","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}"}}}}"#
        ),
        pid = r.hex(17).to_uppercase(),
        f = f,
        acct = ACCOUNT,
        role = role,
        key = r.hex(16).to_uppercase(),
        time = time,
        source = source,
        name = name,
        region = region,
        ip = format!("10.{}.{}.{}", r.below(256), r.below(256), r.below(256)),
        agent = agent,
        err = err,
        req = req,
        resp = resp,
        rid = r.uuid(),
        eid = r.uuid(),
        ro = read_only,
        mgmt = category == "Management",
        category = category,
        host = format!(
            "{}.{region}.amazonaws.com",
            source.trim_end_matches(".amazonaws.com")
        ),
    )
}

/// One denial, in one of the forms AWS writes.
fn denial(r: &mut Rng, time: &str, region: &str) -> String {
    let f = r.pick(&FUNCTIONS);
    let role = format!("{f}-role");
    let who = format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{f}");
    match r.below(7) {
        0 => {
            let msg = format!(
                "User: {who} is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:{region}:{ACCOUNT}:table/Orders because no identity-based policy allows the dynamodb:PutItem action"
            );
            envelope(
                r,
                time,
                region,
                f,
                &role,
                "dynamodb.amazonaws.com",
                "PutItem",
                r#"{"tableName":"Orders"}"#,
                "null",
                false,
                "Data",
                Some(("AccessDenied", &msg)),
            )
        }
        1 => {
            let key = format!("templates/{}.html", r.hex(6));
            let msg = format!(
                "User: {who} is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::acme-data-{ACCOUNT}/{key}\" because no identity-based policy allows the s3:GetObject action"
            );
            let req = format!(r#"{{"bucketName":"acme-data-{ACCOUNT}","key":"{key}"}}"#);
            envelope(
                r,
                time,
                region,
                f,
                &role,
                "s3.amazonaws.com",
                "GetObject",
                &req,
                "null",
                true,
                "Data",
                Some(("AccessDenied", &msg)),
            )
        }
        2 => {
            let msg = format!(
                "User: {who} is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:{region}:{ACCOUNT}:orders-queue with an explicit deny in a service control policy: arn:aws:organizations::444455556666:policy/o-a1b2c3d4e5/service_control_policy/p-examplescp1"
            );
            envelope(
                r,
                time,
                region,
                f,
                &role,
                "sqs.amazonaws.com",
                "SendMessage",
                r#"{"queueUrl":"https://sqs.us-east-1.amazonaws.com/111122223333/orders-queue"}"#,
                "null",
                false,
                "Data",
                Some(("AccessDenied", &msg)),
            )
        }
        3 => {
            let mut msg = format!(
                "You are not authorized to perform this operation. User: {who} is not authorized to perform: ec2:CreateNetworkInterface on resource: arn:aws:ec2:{region}:{ACCOUNT}:subnet/subnet-0abc because no identity-based policy allows the ec2:CreateNetworkInterface action. Encoded authorization failure message: "
            );
            while msg.len() < 1020 {
                msg.push_str(&r.hex(32));
            }
            msg.truncate(1020);
            msg.push_str("...");
            envelope(
                r,
                time,
                region,
                f,
                &role,
                "ec2.amazonaws.com",
                "CreateNetworkInterface",
                r#"{"subnetId":"subnet-0abc"}"#,
                "null",
                false,
                "Management",
                Some(("Client.UnauthorizedOperation", &msg)),
            )
        }
        4 => envelope(
            r,
            time,
            region,
            f,
            &role,
            "lambda.amazonaws.com",
            "CreateEventSourceMapping20150331",
            &format!(
                r#"{{"functionName":"{f}","eventSourceArn":"arn:aws:sqs:{region}:{ACCOUNT}:orders-queue","batchSize":10,"enabled":true}}"#
            ),
            "null",
            false,
            "Management",
            Some((
                "InvalidParameterValueException",
                "The provided execution role does not have permissions to call ReceiveMessage on SQS",
            )),
        ),
        5 => {
            let msg = format!(
                "User: {who} is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:{region}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab with an explicit deny in a resource-based policy"
            );
            envelope(
                r,
                time,
                region,
                f,
                &role,
                "kms.amazonaws.com",
                "Decrypt",
                r#"{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#,
                "null",
                true,
                "Management",
                Some(("AccessDenied", &msg)),
            )
        }
        _ => {
            let req = format!(
                r#"{{"bucketName":"partner-{}","key":"out/{}.csv"}}"#,
                r.hex(4),
                r.hex(8)
            );
            envelope(
                r,
                time,
                region,
                f,
                &role,
                "s3.amazonaws.com",
                "PutObject",
                &req,
                "null",
                false,
                "Data",
                Some(("AccessDenied", "Access Denied")),
            )
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = Path::new(args.get(1).map(String::as_str).unwrap_or("bench/data"));
    let events: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let files: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(42);
    // Denials per 1,000 events: 5 (0.5 %) is an ordinary account; 200 (20 %) a scanner, a
    // function failing on every invocation, an incident archive.
    let per_mille: u64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(5);
    let per_file = events.div_ceil(files);
    let denials = std::sync::atomic::AtomicU64::new(0);
    let written = std::sync::atomic::AtomicU64::new(0);
    let raw_bytes = std::sync::atomic::AtomicU64::new(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2) as u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            let (denials, written, raw_bytes) = (&denials, &written, &raw_bytes);
            s.spawn(move || {
                let mut n = t;
                while n < files {
                    let mut r = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15)
                        ^ (n + 1).wrapping_mul(0xD1B54A32D192ED03));
                    let region = REGIONS[(n % 4) as usize];
                    let hour = n % 24;
                    let dir = out.join(format!(
                        "cloudtrail/AWSLogs/{ACCOUNT}/CloudTrail/{region}/2026/11/20"
                    ));
                    std::fs::create_dir_all(&dir).unwrap();
                    let path = dir.join(format!(
                        "{ACCOUNT}_CloudTrail_{region}_20261120T{hour:02}{:02}Z_{}.json.gz",
                        n % 60,
                        r.hex(16)
                    ));
                    let mut body = String::with_capacity(per_file as usize * 1700);
                    body.push_str("{\"Records\":[");
                    let count = per_file.min(events.saturating_sub(n * per_file));
                    for i in 0..count {
                        if i > 0 {
                            body.push(',');
                        }
                        let time =
                            format!("2026-11-20T{hour:02}:{:02}:{:02}Z", (i / 60) % 60, i % 60);
                        if r.below(1000) < per_mille {
                            body.push_str(&denial(&mut r, &time, region));
                            denials.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        } else {
                            body.push_str(&event(&mut r, &time, region));
                        }
                    }
                    body.push_str("]}");
                    written.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                    raw_bytes.fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    let mut gz =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                    gz.write_all(body.as_bytes()).unwrap();
                    std::fs::write(&path, gz.finish().unwrap()).unwrap();
                    n += threads;
                }
            });
        }
    });
    // CloudWatch Logs exports of two functions, with runtime denials among ordinary lines.
    let mut log_denials = 0u64;
    let mut r = Rng(seed ^ 0xC0FFEE);
    for f in ["orders-worker", "invoice-render"] {
        let dir = out.join(format!("cloudwatch/{f}/2026-11-20-[$LATEST]{}", r.hex(32)));
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::new();
        for i in 0..20_000u64 {
            let ts = format!(
                "2026-11-20T10:{:02}:{:02}.{:03}Z",
                (i / 60) % 60,
                i % 60,
                i % 1000
            );
            let rid = r.uuid();
            if r.below(200) == 0 {
                log_denials += 1;
                let _ = writeln!(
                    text,
                    "{ts} [ERROR] ClientError: An error occurred (AccessDeniedException) when calling the GetSecretValue operation: User: arn:aws:sts::{ACCOUNT}:assumed-role/{f}-role/{f} is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{f}/db-AbCdEf because no identity-based policy allows the secretsmanager:GetSecretValue action"
                );
                let _ = writeln!(
                    text,
                    "Traceback (most recent call last):\n  File \"/var/task/app.py\", line 42, in handler\n    creds = load()"
                );
            } else {
                let _ = writeln!(text, "{ts} START RequestId: {rid} Version: $LATEST");
                let _ = writeln!(
                    text,
                    "{ts} [INFO]\t{ts}\t{rid}\tprocessed {} records",
                    r.below(100)
                );
                let _ = writeln!(text, "{ts} END RequestId: {rid}");
                let _ = writeln!(
                    text,
                    "{ts} REPORT RequestId: {rid}\tDuration: {}.{:02} ms\tBilled Duration: {} ms\tMemory Size: 512 MB\tMax Memory Used: {} MB\t",
                    r.below(900),
                    r.below(100),
                    r.below(900) + 1,
                    60 + r.below(40)
                );
            }
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(dir.join("000000.gz"), gz.finish().unwrap()).unwrap();
    }
    let manifest = serde_json::json!({
        "events": written.load(std::sync::atomic::Ordering::Relaxed),
        "cloudtrail_denials": denials.load(std::sync::atomic::Ordering::Relaxed),
        "log_denials": log_denials,
        "files": files,
        "cloudtrail_bytes": raw_bytes.load(std::sync::atomic::Ordering::Relaxed),
        "seed": seed,
    });
    std::fs::write(out.join("manifest.json"), manifest.to_string()).unwrap();
    println!("{manifest}");
}

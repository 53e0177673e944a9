//! The grammar of AWS access-denied messages.
//!
//! Input: the text of one error (any wrapper around it). Output: a typed [`Message`], or None when
//! the text is not a denial. The routing patterns send the text to a message family; each family has a
//! small parser (nom for the authorization sentence, whose shape is regular and rich; plain
//! string scanning for the fixed Lambda sentences). Quirks AWS writes are handled here and named
//! in tests: S3 quotes the resource, SQS lower-cases actions, CloudTrail truncates at ~1 KiB with
//! `...`, the IAM guide's "sessions policy", articles `a`/`an`/`the`, and the policy-ARN and
//! authorization-id suffixes.

use regex::{Regex, RegexSet};
use std::collections::HashMap;
use std::sync::Mutex;

pub use crate::policy::vocab::PolicyKind;

mod sentence;

pub(super) use sentence::fold_ws;
use sentence::*;

/// Why the message says the request was denied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Reason {
    /// `because no <type> allows the <action> action`.
    Implicit(PolicyKind),
    /// `with an explicit deny in a|an|the <type>`.
    Explicit(PolicyKind),
    /// `with an explicit deny` and no type (older messages).
    ExplicitUntyped,
    /// `because <something else>` (S3 SSE-C, Block Public Access...): kept verbatim.
    Other(String),
    /// No reason given (legacy messages, `Access Denied`).
    Unstated,
}

/// A Lambda trigger-setup or invoke-permission sentence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LambdaError {
    /// `The provided execution role does not have permissions to call <Op> on <Svc>`.
    RoleLacks {
        /// The API the role may not call (`ReceiveMessage`).
        operation: String,
        /// The service as the message names it (`SQS`).
        service: String,
    },
    /// `Cannot access stream <arn>. Please ensure the role can perform the A, B, and C Actions`.
    CannotAccessStream {
        /// The stream's ARN, when the message names it.
        stream: Option<String>,
        /// The operations the role must be able to perform, as the message lists them.
        operations: Vec<String>,
    },
    /// `The role defined for the function cannot be assumed by Lambda.` / `Please add Lambda as a
    /// Trusted Entity`.
    TrustLambda,
    /// S3 `Unable to validate the following destination configurations` (`sqs` when the text
    /// says the destination queue does not allow S3).
    S3Destination {
        /// The destination is a queue (else a function).
        queue: bool,
    },
    /// API Gateway `Invalid permissions on Lambda function`.
    ApiGatewayInvoke,
    /// `elasticloadbalancing principal does not have permission to invoke <arn>`.
    ElbInvoke {
        /// The function the message names, when it does.
        function_arn: Option<String>,
    },
    /// `Lambda was unable to decrypt the environment variables because KMS access was denied`.
    KmsEnvDenied,
    /// `... because the KMS key used is disabled`.
    KmsDisabled,
    /// `... the KMS key is invalid for CreateGrant`.
    KmsCreateGrant,
}

/// The family a message belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Family {
    /// `User: X is not authorized to perform: A ...`.
    Authorization,
    /// One of the Lambda sentences.
    Lambda(LambdaError),
    /// An access-denied error without detail (`Access Denied`, `You are not authorized to perform
    /// this operation.`, `Access to the resource ... is denied.`).
    Bare,
    /// A sentence only the integration catalog knows (`rules/integrations.json`).
    Catalog,
}

/// One parsed denial message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    /// Which kind of sentence it is: an authorization error, a Lambda setup error, a bare one...
    pub family: Family,
    /// The principal as the message names it (an ARN, or `anonymous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The action as written (case not yet normalised), for `Lambda` the IAM action it implies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Further actions the message names (`Cannot access stream ... GetRecords, ...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_actions: Vec<String>,
    /// The resource as written, quotes removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Why the message says it was denied.
    pub reason: Reason,
    /// `transitively through a <type>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<PolicyKind>,
    /// The policy ARN suffix (`: arn:...` or `, with policy ARN: arn:...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_arn: Option<String>,
    /// `... with the following authorization id: <id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_id: Option<String>,
    /// An `Encoded authorization failure message` was attached.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encoded: bool,
    /// The text was cut (CloudTrail keeps ~1 KiB and ends it with `...`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Error code from a wrapper (`An error occurred (AccessDenied) ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// API operation from a wrapper (`when calling the GetObject operation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Service from a wrapper (Go SDK `operation error S3: GetObject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `service`/`operation` come from a CloudTrail row (`ec2.amazonaws.com CreateNetworkInterface`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub event_row: bool,
    /// The integration of the catalog whose wording the text has, and its named groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    /// The named groups the integration's pattern captured (`trigger`, `function`...), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<(String, String)>,
    /// The message text, white space folded.
    pub text: String,
}

/// A pattern compiled when first needed (a wording of the integration catalog, a routing
/// pattern): a set holding it has checked it already.
#[derive(Debug)]
struct LazyRegex {
    pattern: String,
    /// Text every match contains (exact case): a text without it is not asked, nor the
    /// pattern compiled for it.
    literal: Option<&'static str>,
    compiled: std::sync::OnceLock<Option<Regex>>,
}

impl LazyRegex {
    fn new(pattern: String) -> LazyRegex {
        LazyRegex {
            pattern,
            literal: None,
            compiled: std::sync::OnceLock::new(),
        }
    }

    /// A pattern all of whose matches contain `literal`.
    fn needing(pattern: &str, literal: &'static str) -> LazyRegex {
        LazyRegex {
            literal: Some(literal),
            ..LazyRegex::new(pattern.to_string())
        }
    }

    fn may_match(&self, text: &str) -> bool {
        self.literal.is_none_or(|l| text.contains(l))
    }

    /// The compiled pattern; None only if it does not compile (a test compiles them all).
    fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| Regex::new(&self.pattern).ok())
            .as_ref()
    }

    fn captures<'t>(&self, text: &'t str) -> Option<regex::Captures<'t>> {
        self.may_match(text).then(|| self.regex()?.captures(text))?
    }

    fn is_match(&self, text: &str) -> bool {
        self.may_match(text) && self.regex().is_some_and(|r| r.is_match(text))
    }
}

/// Compiled patterns, built once and shared.
#[derive(Debug)]
pub struct Grammar {
    /// All routing patterns at once: whether a text may be a denial at all.
    route: RegexSet,
    /// The same patterns one by one, asked in the order the families are tried. A set's
    /// `matches` runs every pattern over the whole text (2.5 µs for an authorization sentence);
    /// the families stop at the first that fits, mostly the first pattern (0.1 µs). Each is
    /// compiled when first asked: most texts need one or two of them.
    routes: Vec<LazyRegex>,
    cli: LazyRegex,
    go: LazyRegex,
    cfn: LazyRegex,
    php: LazyRegex,
    json_code: LazyRegex,
    sqs_url: LazyRegex,
    /// Terraform's `creating Lambda Function (NAME): ...` names the function.
    terraform_fn: LazyRegex,
    /// The catalog's wordings (integration id, pattern), and a set of them for routing. A
    /// wording's own regex (for its named groups) is compiled the first time a text has it:
    /// most runs meet few of them, and compiling them all was a fifth of starting up. The
    /// set has checked every pattern already. The fixed patterns below are compiled when
    /// first asked too: a run of CloudTrail events never asks most of them.
    catalog: Vec<(String, LazyRegex)>,
    catalog_route: RegexSet,
    bare_phrase: LazyRegex,
    denied_by: LazyRegex,
    perform: LazyRegex,
    ct_row: LazyRegex,
    /// Messages parsed before: a role that fails thousands of times logs the same sentence
    /// each time, and parsing is a pure function of the text. Bounded; emptied when full.
    memo: Mutex<HashMap<String, Option<Message>>>,
}

/// How many distinct messages the grammar remembers.
const MEMO_MAX: usize = 512;
/// The longest message it remembers (AWS's own are a few hundred bytes).
const MEMO_TEXT_MAX: usize = 2048;

const R_AUTHZ: usize = 0;
const R_ROLE_LACKS: usize = 1;
const R_STREAM: usize = 2;
const R_TRUST: usize = 3;
const R_S3_DEST: usize = 4;
const R_APIGW: usize = 5;
const R_ELB: usize = 6;
const R_KMS: usize = 7;
const R_BARE: usize = 8;
const R_DENIED_BY: usize = 9;
const R_CIPHER: usize = 10;
const R_FRAGMENT: usize = 11;

/// The routing patterns; also the cheap prefilter for records and lines.
pub const ROUTES: [&str; 12] = [
    r"(?i)is\s+not\s+authorized\s+to\s+perform",
    r"(?i)role\s+does\s+not\s+have\s+permissions?\s+to\s+call",
    r"(?i)cannot\s+access\s+stream",
    r"(?i)cannot\s+be\s+assumed\s+by\s+lambda|add\s+lambda\s+as\s+a\s+trusted\s+entity",
    r"(?i)unable\s+to\s+validate\s+the\s+following\s+destination\s+configurations",
    r"(?i)invalid\s+permissions\s+on\s+lambda\s+function|(?:doesn't|doesn’t|does\s+not)\s+have\s+permissions\s+to\s+call\s+the\s+integration",
    r"(?i)principal\s+does\s+not\s+have\s+permission\s+to\s+invoke",
    r"(?i)unable\s+to\s+decrypt\s+the\s+environment\s+variables|KMSAccessDeniedException|KMSDisabledException|invalid\s+for\s+CreateGrant",
    r"(?i)\bAccessDenied(?:Exception)?\b|\bUnauthorizedOperation\b|not\s+authorized\s+to\s+perform\s+this\s+operation|Access\s+to\s+the\s+resource\s+\S+\s+is\s+denied|is\s+not\s+authorized\s+to\s+access\s+this\s+resource|is\s+not\s+allowed\s+to\s+execute|No\s+access\s+to\s+any\s+requested\s+resource|\bnot\s+authorized\s+to\s+perform\b|Not\s+authorized\s+to\s+access\s+resource",
    r"(?i)access\s+has\s+been\s+denied\s+by\s+\S+,?\s+please\s+make\s+sure",
    r"(?i)ciphertext\s+refers\s+to\s+a\s+customer\s+master\s+key",
    r"(?i)because\s+no\s+[\w\s-]+\s+allows\s+the\s+\S+\s+action|with\s+an\s+explicit\s+deny\s+in\s+(?:a|an|the)\s+[\w\s-]+\s+polic",
];

/// Which routing patterns a text matches, each asked only when a family needs it.
struct Routes<'a> {
    each: &'a [LazyRegex],
    text: &'a str,
    any: bool,
}

impl<'a> Routes<'a> {
    fn new(each: &'a [LazyRegex], set: &RegexSet, text: &'a str) -> Routes<'a> {
        Routes {
            each,
            text,
            any: set.is_match(text),
        }
    }

    /// Whether any routing pattern matches.
    fn any(&self) -> bool {
        self.any
    }

    /// Whether routing pattern `i` matches.
    fn matched(&self, i: usize) -> bool {
        self.any
            && self
                .each
                .get(i)
                .and_then(LazyRegex::regex)
                .is_some_and(|r| r.is_match(self.text))
    }
}

impl Grammar {
    /// Compiles the patterns, without the integration catalog.
    pub fn new() -> Result<Grammar, regex::Error> {
        Grammar::with_integrations(&[])
    }

    /// Compiles the patterns and the wordings of the integration catalog.
    pub fn with_integrations(
        integrations: &[crate::rules::Integration],
    ) -> Result<Grammar, regex::Error> {
        let mut catalog = Vec::new();
        for i in integrations {
            for t in &i.matching.texts {
                catalog.push((i.id.clone(), LazyRegex::new(format!("(?i){}", t.pattern))));
            }
        }
        let catalog_route = RegexSet::new(catalog.iter().map(|(_, t)| t.pattern.as_str()))?;
        Ok(Grammar {
            catalog,
            catalog_route,
            route: RegexSet::new(ROUTES)?,
            routes: ROUTES
                .iter()
                .map(|p| LazyRegex::new(p.to_string()))
                .collect(),
            cli: LazyRegex::needing(r"An error occurred \(([\w.]+)\) when calling the (\w+) operation", "An error occurred ("),
            go: LazyRegex::needing(r"operation error ([\w .-]+?): (\w+), https response error StatusCode: \d+, RequestID: [\w-]*, (?:api error )?(\w+):", "operation error "),
            cfn: LazyRegex::needing(r"\(Service: ([\w .-]+?)[;,] Status Code: \d+[;,] (?:Error Code: (\w+)|HandlerErrorCode: (\w+))", "(Service: "),
            php: LazyRegex::needing(r#"Error executing "(\w+)" on "[^"]*"; AWS HTTP error: .*?\b(AccessDenied\w*)"#, r#"Error executing ""#),
            json_code: LazyRegex::needing(r#""(?:errorType|errorCode|code|Code|name|__type)"\s*:\s*"([\w.#:-]*(?:AccessDenied|Unauthorized)\w*)""#, r#"""#),
            bare_phrase: LazyRegex::new(r"(?i)not authorized to perform this operation|Access to the resource \S+ is denied|is not authorized to access this resource|is not allowed to execute|No access to any requested resource|\bnot authorized to perform\b|Not authorized to access resource".to_string()),
            denied_by: LazyRegex::new(r"(?i)access has been denied by (\S+?),? please make sure your (.+?) ha(?:ve|s) permissions? to \*?(\w+)\*?(?: for (\S+?))?[.,]?(?:\s|$)".to_string()),
            perform: LazyRegex::new(r"(?i)not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9*]+)".to_string()),
            ct_row: LazyRegex::new(r"\b([a-z0-9-]+(?:\.[a-z0-9-]+)?)\.amazonaws\.com\s+([A-Z][A-Za-z0-9]+)\s".to_string()),
            sqs_url: LazyRegex::new(r"https://(?:sqs\.)?([a-z0-9-]+)\.(?:queue\.)?amazonaws\.com(?:\.cn)?/(\d{12})/([\w.-]+)".to_string()),
            terraform_fn: LazyRegex::new(r"(?i)\b(?:creating|updating|reading|deleting|publishing) Lambda Function(?: version)? \(([\w:.-]+)\)".to_string()),
            memo: Mutex::new(HashMap::new()),
        })
    }

    /// `Your access has been denied by S3, please make sure your request credentials have
    /// permission to GetObject for bucket/key` (Lambda control plane). When the sentence blames
    /// the execution role it is a setup error; otherwise the caller's own permission.
    fn denied_by(&self, t: &str) -> Option<Message> {
        let c = self.denied_by.captures(t)?;
        let (svc, who, op) = (cap(&c, 1), cap(&c, 2), cap(&c, 3));
        if who.to_ascii_lowercase().contains("execution role") {
            let mut m = lambda_msg(
                t,
                LambdaError::RoleLacks {
                    operation: op,
                    service: svc,
                },
            );
            m.reason = Reason::Implicit(PolicyKind::Identity);
            return Some(m);
        }
        let mut m = bare(t);
        m.family = Family::Authorization;
        m.service = Some(svc.clone());
        m.operation = Some(op);
        if let Some(r) = c.get(4).map(|x| x.as_str().trim_end_matches(['.', ','])) {
            if svc.eq_ignore_ascii_case("s3") && !r.starts_with("arn:") {
                m.resource = Some(format!("arn:aws:s3:::{r}"));
            } else {
                m.resource = Some(r.to_string());
            }
        }
        Some(m)
    }

    /// Whether a bare (detail-less) denial uses one of AWS's own phrases rather than only an
    /// error code.
    pub fn is_bare_phrase(&self, text: &str) -> bool {
        self.bare_phrase.is_match(text)
    }

    /// Every integration whose wording the text has, in catalog order.
    pub fn integrations_matching(&self, text: &str) -> Vec<&str> {
        self.catalog_route
            .matches(text)
            .iter()
            .filter_map(|i| self.catalog.get(i).map(|(id, _)| id.as_str()))
            .collect()
    }

    /// Whether the text may hold a denial (the cheap check before any parsing).
    pub fn may_match(&self, text: &str) -> bool {
        self.route.is_match(text) || self.catalog_route.is_match(text)
    }

    /// Parses a denial out of `text`, or None when the text is not one.
    pub fn parse(&self, text: &str) -> Option<Message> {
        // Only sentences of an ordinary size are remembered, so that hostile megabyte-long
        // messages can neither make the memo large nor cost a hash of their length.
        if text.len() > MEMO_TEXT_MAX {
            return self.parse_uncached(text);
        }
        if let Ok(memo) = self.memo.lock()
            && let Some(m) = memo.get(text)
        {
            return m.clone();
        }
        let m = self.parse_uncached(text);
        if let Ok(mut memo) = self.memo.lock() {
            if memo.len() >= MEMO_MAX {
                memo.clear();
            }
            memo.insert(text.to_string(), m.clone());
        }
        m
    }

    /// How many messages are remembered now.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.memo.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn parse_uncached(&self, text: &str) -> Option<Message> {
        let routes = Routes::new(&self.routes, &self.route, text);
        let known = self.catalog_route.is_match(text);
        if !routes.any() && !known {
            return None;
        }
        let mut m = self.parse_families(text, &routes)?;
        // The catalog's wording says which integration this is, and may name its function.
        if known
            && let Some(i) = self.catalog_route.matches(text).iter().next()
            && let Some((id, text)) = self.catalog.get(i)
        {
            m.integration = Some(id.clone());
            if let Some(re) = text.regex()
                && let Some(c) = re.captures(&m.text)
            {
                for name in re.capture_names().flatten() {
                    if let Some(v) = c.name(name) {
                        m.captures.push((name.to_string(), v.as_str().to_string()));
                    }
                }
            }
        }
        Some(m)
    }

    /// Parses the message families the routes point at; a text that only the catalog knows
    /// becomes a [`Family::Catalog`] message.
    fn parse_families(&self, text: &str, routes: &Routes<'_>) -> Option<Message> {
        if !routes.any() {
            let folded = fold_ws(text);
            let mut m = empty(Family::Catalog, &folded);
            self.wrappers(&folded, &mut m);
            return Some(m);
        }
        let folded = fold_ws(text);
        let t = folded.as_str();
        let lower = t.to_ascii_lowercase();
        let mut m = if routes.matched(R_AUTHZ) && lower.contains("is not authorized to perform") {
            let mut m = authorization(t).unwrap_or_else(|| bare(t));
            // Folding white space must not change a quoted resource (an S3 key may hold
            // newlines and runs of spaces): take it from the text as written.
            if m.resource.is_some()
                && let Some(raw) = quoted_resource(text)
            {
                m.resource = Some(raw);
            }
            // Lambda's environment-variable error quotes KMS's own message: the kind is KMS,
            // the action, resource and reason come from the quoted message.
            if routes.matched(R_KMS) && lower.contains("environment variables") {
                m.family = Family::Lambda(LambdaError::KmsEnvDenied);
            }
            m
        } else if routes.matched(R_DENIED_BY) {
            self.denied_by(t).unwrap_or_else(|| bare(t))
        } else if routes.matched(R_FRAGMENT) {
            fragment(t).unwrap_or_else(|| bare(t))
        } else if routes.matched(R_ROLE_LACKS) {
            role_lacks(t).unwrap_or_else(|| bare(t))
        } else if routes.matched(R_STREAM) {
            stream(t)
        } else if routes.matched(R_TRUST) {
            lambda_msg(t, LambdaError::TrustLambda)
        } else if routes.matched(R_S3_DEST) {
            let queue = t.to_ascii_lowercase().contains("destination queue");
            lambda_msg(t, LambdaError::S3Destination { queue })
        } else if routes.matched(R_APIGW) {
            lambda_msg(t, LambdaError::ApiGatewayInvoke)
        } else if routes.matched(R_ELB) {
            let arn = after(t, "permission to invoke ").and_then(token);
            lambda_msg(t, LambdaError::ElbInvoke { function_arn: arn })
        } else if routes.matched(R_KMS) {
            let l = t.to_ascii_lowercase();
            let e = if l.contains("is disabled") || l.contains("kmsdisabledexception") {
                LambdaError::KmsDisabled
            } else if l.contains("creategrant") {
                LambdaError::KmsCreateGrant
            } else {
                LambdaError::KmsEnvDenied
            };
            lambda_msg(t, e)
        } else if routes.matched(R_CIPHER) {
            // KMS could not decrypt: the key does not exist here or the caller may not use it.
            let mut m = bare(t);
            m.action = Some("kms:Decrypt".to_string());
            m
        } else if routes.matched(R_BARE) {
            let mut m = bare(t);
            if let Some(c) = self.perform.captures(t) {
                m.action = Some(cap(&c, 1));
            } else if let Some(c) = self.ct_row.captures(t) {
                // A CloudTrail console row: `... ec2.amazonaws.com CreateNetworkInterface ...`.
                m.service = Some(cap(&c, 1));
                m.operation = Some(cap(&c, 2));
                m.event_row = true;
            }
            m
        } else {
            return None;
        };
        self.wrappers(t, &mut m);
        if m.family == Family::Bare
            && m.resource.is_none()
            && let Some(c) = self.sqs_url.captures(t)
        {
            let (r, a, q) = (cap(&c, 1), cap(&c, 2), cap(&c, 3));
            m.resource = Some(format!("arn:aws:sqs:{r}:{a}:{q}"));
        }
        Some(m)
    }

    fn wrappers(&self, t: &str, m: &mut Message) {
        if let Some(c) = self.cli.captures(t) {
            m.error_code = Some(cap(&c, 1));
            m.operation.get_or_insert_with(|| cap(&c, 2));
        } else if let Some(c) = self.go.captures(t) {
            m.service = Some(cap(&c, 1));
            m.operation = Some(cap(&c, 2));
            m.error_code = Some(cap(&c, 3));
        } else if let Some(c) = self.php.captures(t) {
            m.operation = Some(cap(&c, 1));
            m.error_code = Some(cap(&c, 2));
        }
        if let Some(c) = self.cfn.captures(t) {
            m.service.get_or_insert_with(|| cap(&c, 1));
            if m.error_code.is_none() {
                let code = c
                    .get(2)
                    .or_else(|| c.get(3))
                    .map(|x| x.as_str().to_string());
                m.error_code = code;
            }
        }
        if m.error_code.is_none()
            && let Some(c) = self.json_code.captures(t)
        {
            m.error_code = Some(cap(&c, 1));
        }
        if let Some(c) = self.terraform_fn.captures(t) {
            m.captures.push(("function".into(), cap(&c, 1)));
        }
    }
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

    fn p(t: &str) -> Message {
        Grammar::new().unwrap().parse(t).unwrap()
    }

    /// Every pattern compiled on first use compiles: none of them can silently match nothing.
    #[test]
    fn every_lazy_pattern_compiles() {
        let rules = crate::rules::Rules::embedded().unwrap();
        let g = Grammar::with_integrations(&rules.integrations).unwrap();
        assert!(!g.catalog.is_empty());
        let fixed = [
            &g.cli,
            &g.go,
            &g.cfn,
            &g.php,
            &g.json_code,
            &g.sqs_url,
            &g.terraform_fn,
            &g.bare_phrase,
            &g.denied_by,
            &g.perform,
            &g.ct_row,
        ];
        let all = fixed
            .into_iter()
            .chain(&g.routes)
            .chain(g.catalog.iter().map(|(_, r)| r));
        for r in all {
            assert!(r.regex().is_some(), "{}", r.pattern);
            // The required text begins the pattern, which has no alternative at its top level.
            if let Some(l) = r.literal {
                assert!(r.pattern.starts_with(&regex::escape(l)), "{}", r.pattern);
                let (mut depth, mut escaped, mut class) = (0i32, false, false);
                for c in r.pattern.chars() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '[' => class = true,
                        ']' => class = false,
                        _ if class => {}
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        '|' => assert!(depth > 0, "{} has a top-level alternative", r.pattern),
                        _ => {}
                    }
                }
            }
        }
    }

    /// The memo gives what parsing gives, stays within its count, and keeps no long message.
    #[test]
    fn memo_is_bounded_and_transparent() {
        let g = Grammar::new().unwrap();
        let text = |i: usize| {
            format!(
                "User: arn:aws:sts::123456789012:assumed-role/r/f is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k{i}"
            )
        };
        for i in 0..MEMO_MAX + 10 {
            let t = text(i % (MEMO_MAX + 5));
            assert_eq!(g.parse(&t), g.parse_uncached(&t));
            assert!(g.remembered() <= MEMO_MAX);
        }
        let g = Grammar::new().unwrap();
        let long = text(0) + &" x".repeat(MEMO_TEXT_MAX);
        assert_eq!(g.parse(&long), g.parse_uncached(&long));
        assert_eq!(g.remembered(), 0);
    }

    use proptest::prelude::*;

    proptest! {
        /// Asking the routing patterns one by one says what the set says of all of them, on
        /// texts built of the patterns' own phrases (in any case, any spacing) and noise.
        #[test]
        fn routes_asked_one_by_one_agree_with_the_set(
            parts in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(vec![
                        "is not authorized to perform", "role does not have permissions to call",
                        "cannot access stream", "cannot be assumed by Lambda",
                        "unable to validate the following destination configurations",
                        "invalid permissions on Lambda function", "doesn't have permissions to call the integration",
                        "principal does not have permission to invoke", "KMSAccessDeniedException",
                        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                        "Access to the resource x is denied", "access has been denied by x, please make sure",
                        "ciphertext refers to a customer master key", "because no identity-based policy allows the s3:GetObject action",
                        "with an explicit deny in a service control policy", "arn:aws:s3:::b/k",
                    ]).prop_map(str::to_string),
                    "[ a-zA-Z:\\-\n\t]{0,12}",
                ],
                0..6,
            ),
            upper in proptest::collection::vec(proptest::bool::ANY, 6),
        ) {
            static G: std::sync::OnceLock<Grammar> = std::sync::OnceLock::new();
            let g = G.get_or_init(|| Grammar::new().unwrap());
            let text: String = parts
                .iter()
                .zip(upper.iter().cycle())
                .map(|(p, &u)| if u { p.to_uppercase() } else { p.clone() } + "  ")
                .collect();
            let set = g.route.matches(&text);
            let routes = Routes::new(&g.routes, &g.route, &text);
            prop_assert_eq!(routes.any(), set.matched_any());
            for i in 0..ROUTES.len() {
                prop_assert_eq!(routes.matched(i), set.matched(i), "route {} of {:?}", i, text);
            }
        }
    }

    #[test]
    fn enhanced_implicit_with_resource() {
        let m = p(
            "User: arn:aws:iam::123456789012:user/John is not authorized to perform: codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* because no permissions boundary allows the codedeploy:ListDeployments action",
        );
        assert_eq!(
            m.principal.as_deref(),
            Some("arn:aws:iam::123456789012:user/John")
        );
        assert_eq!(m.action.as_deref(), Some("codedeploy:ListDeployments"));
        assert_eq!(
            m.resource.as_deref(),
            Some("arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*")
        );
        assert_eq!(m.reason, Reason::Implicit(PolicyKind::PermissionsBoundary));
    }

    #[test]
    fn s3_quoted_resource_and_double_space() {
        let m = p(
            "An error occurred (AccessDenied) when calling the GetObject operation: User: arn:aws:iam::777788889999:user/MaryMajor  is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::amzn-s3-demo-bucket1/object name\" with an explicit deny in a resource control policy",
        );
        assert_eq!(
            m.resource.as_deref(),
            Some("arn:aws:s3:::amzn-s3-demo-bucket1/object name")
        );
        assert_eq!(m.reason, Reason::Explicit(PolicyKind::Rcp));
        assert_eq!(m.error_code.as_deref(), Some("AccessDenied"));
        assert_eq!(m.operation.as_deref(), Some("GetObject"));
    }

    #[test]
    fn policy_arn_suffix_and_transitive() {
        let m = p(
            "User: arn:aws:sts::1:assumed-role/A/x is not authorized to perform: sqs:receivemessage on resource: arn:aws:sqs:us-east-2:7:q with an explicit deny in a service control policy: arn:aws:organizations::0:policy/o-y/service_control_policy/p-k",
        );
        assert_eq!(m.action.as_deref(), Some("sqs:receivemessage"));
        assert_eq!(
            m.policy_arn.as_deref(),
            Some("arn:aws:organizations::0:policy/o-y/service_control_policy/p-k")
        );
        let m = p(
            "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: SNS:Publish on resource: arn:aws:sns:us-east-1:4:t with an explicit deny in a VPC endpoint policy transitively through a service control policy",
        );
        assert_eq!(m.reason, Reason::Explicit(PolicyKind::VpcEndpoint));
        assert_eq!(m.via, Some(PolicyKind::Scp));
    }

    #[test]
    fn truncated_ec2_message() {
        let m = p(
            "You are not authorized to perform this operation. User: arn:aws:sts::7:assumed-role/r/s is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:ca-south-3r:7:instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: T-kSWIRFn32...",
        );
        assert_eq!(m.reason, Reason::Implicit(PolicyKind::Identity));
        assert!(m.encoded && m.truncated);
        assert_eq!(
            m.resource.as_deref(),
            Some("arn:aws:ec2:ca-south-3r:7:instance/*")
        );
    }

    #[test]
    fn lambda_sentences() {
        let m = p(
            "Resource handler returned message: \"Invalid request provided: The provided execution role does not have permissions to call ReceiveMessage on SQS (Service: Lambda, Status Code: 400, HandlerErrorCode: InvalidRequest)",
        );
        assert_eq!(
            m.family,
            Family::Lambda(LambdaError::RoleLacks {
                operation: "ReceiveMessage".into(),
                service: "SQS".into()
            })
        );
        assert_eq!(m.error_code.as_deref(), Some("InvalidRequest"));
        let m = p(
            "The function execution\nrole does not have permissions to call ReceiveMessage on SQS: provider=aws@6.66.2",
        );
        assert!(matches!(
            m.family,
            Family::Lambda(LambdaError::RoleLacks { .. })
        ));
        let m = p(
            "Cannot access stream arn:aws:dynamodb:ap-northeast-2:5:table/t/stream/2020-10-21T05:15:39.587. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.",
        );
        assert_eq!(
            m.resource.as_deref(),
            Some("arn:aws:dynamodb:ap-northeast-2:5:table/t/stream/2020-10-21T05:15:39.587")
        );
        match m.family {
            Family::Lambda(LambdaError::CannotAccessStream { operations, .. }) => {
                assert_eq!(
                    operations,
                    vec![
                        "GetRecords",
                        "GetShardIterator",
                        "DescribeStream",
                        "ListStreams"
                    ]
                )
            }
            other => panic!("{other:?}"),
        }
    }
}

//! API Gateway execution logs: the line that names a request's function and the line where the
//! same request fails are joined, so the failure's denial names the function and its source.
//! An HTTP API's access log names no function, only the route (`"POST POST /orders HTTP/1.1"`
//! in the CLF format, `"routeKey":"POST /orders"` in JSON): the route is read, and diagnose
//! joins it to the imported routes and integrations.

use super::Denial;

/// API Gateway execution logs name the function in one line (`(<request id>) Endpoint request
/// URI: .../functions/<function ARN>/invocations`) and fail in another of the same request
/// (`(<request id>) Execution failed due to configuration error: Invalid permissions on Lambda
/// function`). This joins the two within one file; memory is bounded.
pub struct GatewayRequests {
    by_request: std::collections::HashMap<String, GatewayRequest>,
    /// The REST API id, from a log group named `API-Gateway-Execution-Logs_<id>/<stage>`, or
    /// an HTTP API's, from a log stream named `<id>_<stage>-<time>` (`9x8y7z6w5v_.default-...`).
    api_id: Option<String>,
}

const GATEWAY_REQUESTS_MAX: usize = 10_000;

/// What one request's execution-log lines said.
#[derive(Debug, Default)]
struct GatewayRequest {
    function_arn: Option<String>,
    /// `X-Amz-Source-Arn=arn:aws:execute-api:<region>:<account>:<api>/<stage>/<method>/<path>`.
    source_arn: Option<String>,
    /// `API Stage: <api>/<stage>`.
    api: Option<String>,
    /// `HTTP Method: POST, Resource Path: /orders`.
    method_path: Option<(String, String)>,
}

/// The token after `marker`, up to white space, a comma or a closing brace.
fn token_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let i = text.find(marker)?;
    let rest = text.get(i + marker.len()..)?.trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ',' || c == '}')
        .unwrap_or(rest.len());
    let t = rest.get(..end)?;
    (!t.is_empty()).then_some(t)
}

/// The API id of an HTTP API access-log stream name (`<10-character id>_<stage>-...`).
fn http_stream_api(name: &str) -> Option<String> {
    let (id, rest) = name.split_once('_')?;
    (id.len() == 10
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && rest.contains('-'))
    .then(|| id.to_string())
}

/// The route key of an HTTP API access-log line: the CLF request field
/// (`"<method> <route key> <protocol>"`, the route key being `$default` or `<METHOD> <path>`),
/// or a JSON format's `routeKey`.
fn route_key(text: &str) -> Option<String> {
    if let Some(i) = text.find("\"routeKey\"") {
        let rest = text
            .get(i + 10..)?
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        let rest = rest.strip_prefix('"')?;
        let key = rest.get(..rest.find('"')?)?;
        return (!key.is_empty() && key != "-").then(|| key.to_string());
    }
    for field in text.split('"').skip(1).step_by(2) {
        let mut words = field.split(' ');
        let (Some(method), Some(first)) = (words.next(), words.next()) else {
            continue;
        };
        if !method.bytes().all(|b| b.is_ascii_uppercase()) || method.is_empty() {
            continue;
        }
        let key = match first {
            "$default" => "$default".to_string(),
            m if m.bytes().all(|b| b.is_ascii_uppercase()) && !m.is_empty() => {
                let path = words.next().filter(|p| p.starts_with('/'))?;
                format!("{m} {path}")
            }
            _ => continue,
        };
        if words.next().is_some_and(|p| p.starts_with("HTTP/")) {
            return Some(key);
        }
    }
    None
}

impl GatewayRequests {
    /// An empty join for one file; `display` is the file's name, whose log group
    /// (`API-Gateway-Execution-Logs_<api id>/...`) names the API.
    pub fn new(display: &str) -> Self {
        let api_id = display
            .split("API-Gateway-Execution-Logs_")
            .nth(1)
            .and_then(|r| {
                let id: String = r
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                (!id.is_empty()).then_some(id)
            })
            .or_else(|| display.split(['/', '\\']).find_map(http_stream_api));
        GatewayRequests {
            by_request: std::collections::HashMap::new(),
            api_id,
        }
    }

    /// `(<id>) ...` at the start of the message (after any timestamp prefix).
    fn request_id(text: &str) -> Option<&str> {
        let open = text.find('(')?;
        let rest = text.get(open + 1..)?;
        let close = rest.find(')')?;
        let id = rest.get(..close)?;
        (id.len() >= 8 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')).then_some(id)
    }

    /// Remembers what one execution-log line says of its request: the function ARN, the source ARN,
    /// the stage, the method and path. Lines without a request id or a known marker are ignored;
    /// past `GATEWAY_REQUESTS_MAX` requests the map starts afresh, so memory stays bounded.
    pub fn observe(&mut self, text: &str) {
        const MARKERS: [&str; 4] = [
            "Endpoint request URI:",
            "X-Amz-Source-Arn=",
            "API Stage:",
            "HTTP Method:",
        ];
        if !MARKERS.iter().any(|m| text.contains(m)) {
            return;
        }
        let Some(id) = Self::request_id(text) else {
            return;
        };
        if self.by_request.len() >= GATEWAY_REQUESTS_MAX && !self.by_request.contains_key(id) {
            self.by_request.clear();
        }
        let r = self.by_request.entry(id.to_string()).or_default();
        if let Some(i) = text.find("Endpoint request URI:") {
            let uri = text.get(i..).unwrap_or_default();
            if let Some(start) = uri.find("arn:aws") {
                let arn: String = uri
                    .get(start..)
                    .unwrap_or_default()
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '/')
                    .collect();
                r.function_arn = Some(arn);
            }
        }
        if let Some(src) = token_after(text, "X-Amz-Source-Arn=") {
            r.source_arn = Some(src.to_string());
        }
        if let Some(stage) = token_after(text, "API Stage:") {
            r.api = Some(stage.to_string());
        }
        if let (Some(m), Some(p)) = (
            token_after(text, "HTTP Method:"),
            token_after(text, "Resource Path:"),
        ) {
            r.method_path = Some((m.to_string(), p.to_string()));
        }
    }

    /// Completes an API Gateway `Invalid permissions on Lambda function` denial from the lines seen
    /// before it of the same request: the function, its account and region, and the `--source-arn`
    /// for any stage. Other denials are left as they are.
    pub fn correlate(&self, d: &mut Denial, text: &str) {
        if d.message.family
            != crate::parse::Family::Lambda(crate::parse::LambdaError::ApiGatewayInvoke)
        {
            return;
        }
        if d.request.api_id.is_none() {
            d.request.api_id = self.api_id.clone();
        }
        if d.request.route_key.is_none() {
            d.request.route_key = route_key(text);
        }
        let Some(r) = Self::request_id(text).and_then(|id| self.by_request.get(id)) else {
            return;
        };
        if let Some(arn) = &r.function_arn {
            if let Some(a) = crate::policy::arn::Arn::parse(arn) {
                d.region.get_or_insert_with(|| a.region.to_string());
                d.account.get_or_insert_with(|| a.account.to_string());
            }
            d.function = crate::policy::arn::function_name(arn);
            d.request.function_arn = Some(arn.clone());
            d.resource = Some(arn.clone());
        }
        if let Some(api) = r.api.as_deref().and_then(|a| a.split('/').next()) {
            d.request.api_id = Some(api.to_string());
        }
        // The source the permission must name, for any stage (as the console grants it); an
        // authorizer's source (`<api>/authorizers/<id>`) has no stage and is kept as it is.
        d.request.source_arn = match (&r.source_arn, &d.request.api_id, &r.method_path) {
            (Some(src), _, _) => {
                let mut parts: Vec<&str> = src.splitn(4, '/').collect();
                if let Some(stage) = parts.get_mut(1).filter(|s| **s != "authorizers") {
                    *stage = "*";
                }
                Some(parts.join("/"))
            }
            (None, Some(api), Some((m, p))) => match (&d.region, &d.account) {
                (Some(region), Some(account)) => Some(format!(
                    "arn:aws:execute-api:{region}:{account}:{api}/*/{m}{p}"
                )),
                _ => None,
            },
            _ => None,
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail by panicking")]
mod tests {
    use super::*;

    /// Access-log lines: the CLF format with `$context.integrationErrorMessage` (a public
    /// paste quoted in tests/scenarios/apigateway-http-api), a route with a method, and the
    /// JSON format's `routeKey` (http-api-logging-variables.html).
    #[test]
    fn access_logs_name_the_route() {
        let clf = r#"64.136.145.109 - - [15/Feb/2023:23:08:37 +0000] "GET $default HTTP/1.1" 500 35 AZzecgvEPHcEPew= The IAM role configured on the integration or API Gateway doesn't have permissions to call the integration. Check the permissions and try again."#;
        assert_eq!(route_key(clf).as_deref(), Some("$default"));
        let clf = r#"46.6.213.31 - - [17/Oct/2023:04:12:46 +0000] "GET GET /hello/{username} HTTP/1.1" 200 56 M7Z1whVnDoEEJuw= -"#;
        assert_eq!(route_key(clf).as_deref(), Some("GET /hello/{username}"));
        let json = r#"{"requestId":"x","routeKey":"POST /orders","status":"500"}"#;
        assert_eq!(route_key(json).as_deref(), Some("POST /orders"));
        assert_eq!(route_key("no route here"), None);
        assert_eq!(
            http_stream_api("9x8y7z6w5v_.default-2026-11-20-12-40").as_deref(),
            Some("9x8y7z6w5v")
        );
        assert_eq!(http_stream_api("2026/11/20/[$LATEST]abc"), None);
    }
}

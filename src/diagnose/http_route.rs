//! HTTP API integrations: the access log says a route could not call its integration ("The IAM
//! role configured on the integration or API Gateway doesn't have permissions to call the
//! integration"), never which function. The imported routes and integrations
//! (`aws apigatewayv2 get-routes`, `get-integrations`) join the route to the function, and say
//! whether API Gateway invoked with its service principal (the function's policy decides) or
//! with the integration's credentials role (that role's policies decide).

use crate::evaluate::gather::PolicySource;
use crate::parse::Denial;
use crate::policy::arn::{self, Arn};

/// What the imports say of the failing route.
#[derive(Debug, Default)]
pub(super) struct HttpRoute {
    /// The function the route's integration invokes.
    pub function_arn: Option<String>,
    /// `arn:aws:execute-api:REGION:ACCOUNT:API/*/METHOD/PATH` (`/*/$default` for the default
    /// route), the source the function's permission must name.
    pub source_arn: Option<String>,
    /// The integration's credentials role, when it has one.
    pub credentials: Option<String>,
    /// Sentences for the explanation.
    pub notes: Vec<String>,
}

/// The route's part of a source ARN: `METHOD/PATH` for `METHOD /PATH`, `*/PATH` for
/// `ANY /PATH`, `$default` as it is.
fn route_source(route: &str) -> String {
    match route.split_once(' ') {
        Some(("ANY", path)) => format!("*{path}"),
        Some((method, path)) => format!("{method}{path}"),
        None => route.to_string(),
    }
}

/// Joins the denial's route to the imported routes and integrations.
pub(super) fn resolve(d: &Denial, src: Option<&dyn PolicySource>) -> HttpRoute {
    let mut out = HttpRoute::default();
    let Some(route) = d.request.route_key.as_deref() else {
        return out;
    };
    let api = d.request.api_id.as_deref();
    let target = src.and_then(|s| s.http_route(api, route));
    let Some(t) = target else {
        let api = api.unwrap_or("API_ID");
        out.notes.push(format!(
            "The access log names the route {route}, not its function: import `aws apigatewayv2 get-routes --api-id {api}` and `aws apigatewayv2 get-integrations --api-id {api}` (with --resource arn:aws:apigateway:REGION::/apis/{api}) to name it."
        ));
        return out;
    };
    let function = t
        .uri
        .as_deref()
        .filter(|u| u.contains(":lambda:") && u.contains(":function:"))
        .map(|u| {
            // A Lambda proxy integration's URI may be the invocation path around the ARN.
            let start = u.find("arn:").unwrap_or(0);
            let arn = u.get(start..).unwrap_or(u);
            arn.split("/invocations").next().unwrap_or(arn).to_string()
        });
    let Some(function) = function else {
        out.notes.push(format!(
            "The route {route} of HTTP API {} does not invoke a Lambda function ({}).",
            t.api_id,
            t.uri.as_deref().unwrap_or("no integration URI")
        ));
        return out;
    };
    let name = arn::function_name(&function).unwrap_or_else(|| function.clone());
    out.notes.push(format!(
        "The route {route} of HTTP API {} invokes {name} (from the imported routes and integrations).",
        t.api_id
    ));
    if let Some(a) = Arn::parse(&function) {
        out.source_arn = Some(format!(
            "arn:{}:execute-api:{}:{}:{}/*/{}",
            a.partition,
            a.region,
            a.account,
            t.api_id,
            route_source(route)
        ));
    }
    if let Some(role) = &t.credentials {
        out.notes.push(format!(
            "The integration invokes with its credentials role {role}, not as apigateway.amazonaws.com: the role must allow lambda:InvokeFunction on the function and trust apigateway.amazonaws.com."
        ));
    }
    out.credentials = t.credentials;
    out.function_arn = Some(function);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_become_source_paths() {
        assert_eq!(route_source("POST /orders"), "POST/orders");
        assert_eq!(route_source("ANY /items/{id}"), "*/items/{id}");
        assert_eq!(route_source("$default"), "$default");
    }
}

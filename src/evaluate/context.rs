//! The request context: the condition keys a request carries, derived from what the log and the
//! store say, and nothing more. A key we cannot know stays unknown rather than guessed.

use jiff::Timestamp;

use super::Caller;
use super::condition::{KeyState, Lookup, MapContext};
use crate::policy::arn::{Arn, Principal, PrincipalKind};

/// Builds the context of one request.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    map: MapContext,
}

/// What is known about a request beyond its principal, action and resource.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// When the request was made (the event time); now when absent.
    pub time: Option<Timestamp>,
    /// The region the request went to, when the resource ARN does not say.
    pub region: Option<&'a str>,
    /// The caller's source IP address, when the log gives one.
    pub source_ip: Option<&'a str>,
    /// The principal's tags, when its policies were imported (None: unknown).
    pub principal_tags: Option<&'a [(String, String)]>,
    /// For service principals: the source resource and account.
    pub source_arn: Option<&'a str>,
    /// The source's account (`aws:SourceAccount`).
    pub source_account: Option<&'a str>,
    /// Keys given explicitly (`--context KEY=VALUE`); they override what is derived.
    pub given: &'a [(String, String)],
    /// The account that owns the resource, where its ARN does not say (S3).
    pub resource_account: Option<&'a str>,
    /// The organization of the caller's account, when the imported organization places it.
    pub principal_org: Option<&'a super::gather::Membership>,
    /// The organization of the resource's account.
    pub resource_org: Option<&'a super::gather::Membership>,
    /// For a KMS request another service made with the caller's credentials: `kms:ViaService`
    /// (`dynamodb.eu-west-1.amazonaws.com`).
    pub via_service: Option<&'a str>,
}

impl<'a> Facts<'a> {
    /// Facts from the store ([`super::gather::store_facts`]).
    pub fn with_store(mut self, s: &'a super::gather::StoreFacts) -> Facts<'a> {
        self.principal_tags = s.principal_tags.as_deref();
        self.principal_org = s.principal_org.as_ref();
        self.resource_org = s.resource_org.as_ref();
        self.resource_account = s.resource_account.as_deref();
        self
    }
}

impl RequestContext {
    /// Derives the global condition keys of a request.
    pub fn derive(caller: &Caller, resource: &str, facts: &Facts<'_>) -> RequestContext {
        let mut m = MapContext::default();
        let now = facts.time.unwrap_or_else(Timestamp::now);
        m.set_owned(
            "aws:CurrentTime",
            vec![now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()],
        );
        m.set_owned("aws:EpochTime", vec![now.as_second().to_string()]);
        m.set("aws:SecureTransport", &["true"]);
        match caller {
            Caller::Iam {
                arn,
                session_arn,
                account,
            } => {
                m.set_owned("aws:PrincipalArn", vec![arn.clone()]);
                m.set_owned("aws:PrincipalAccount", vec![account.clone()]);
                m.set("aws:PrincipalIsAWSService", &["false"]);
                m.absent("aws:PrincipalServiceName");
                // A direct call carries no source resource.
                m.absent("aws:SourceArn");
                m.absent("aws:SourceAccount");
                m.absent("aws:SourceOwner");
                let kind = session_arn
                    .as_deref()
                    .and_then(Principal::parse)
                    .map(|p| p.kind)
                    .or_else(|| Principal::parse(arn).map(|p| p.kind));
                match kind {
                    Some(PrincipalKind::AssumedRole) => {
                        m.set("aws:PrincipalType", &["AssumedRole"]);
                        m.absent("aws:username");
                    }
                    Some(PrincipalKind::User) => {
                        m.set("aws:PrincipalType", &["User"]);
                        if let Some(p) = Principal::parse(arn) {
                            m.set_owned("aws:username", vec![p.name.to_string()]);
                        }
                    }
                    Some(PrincipalKind::Role) => {
                        m.set("aws:PrincipalType", &["AssumedRole"]);
                        m.absent("aws:username");
                    }
                    Some(PrincipalKind::Root) => m.set("aws:PrincipalType", &["Account"]),
                    Some(PrincipalKind::FederatedUser) => {
                        m.set("aws:PrincipalType", &["FederatedUser"])
                    }
                    _ => {}
                }
                // An account the imported organization does not place stays unknown: the
                // import may be partial.
                if let Some(o) = facts.principal_org {
                    m.set_owned("aws:PrincipalOrgID", vec![o.org_id.clone()]);
                    m.set_owned("aws:PrincipalOrgPaths", vec![o.path.clone()]);
                }
                if let Some(tags) = facts.principal_tags {
                    m.absent_prefix("aws:PrincipalTag/");
                    for (k, v) in tags {
                        m.set_owned(&format!("aws:PrincipalTag/{k}"), vec![v.clone()]);
                    }
                }
            }
            Caller::Service(svc) => {
                m.set("aws:PrincipalIsAWSService", &["true"]);
                m.set_owned("aws:PrincipalServiceName", vec![svc.clone()]);
                m.absent("aws:PrincipalArn");
                m.absent("aws:PrincipalAccount");
                m.absent("aws:username");
                m.absent_prefix("aws:PrincipalTag/");
                // A service principal belongs to no organization.
                m.absent("aws:PrincipalOrgID");
                m.absent("aws:PrincipalOrgPaths");
                if let Some(s) = facts.source_arn {
                    m.set_owned("aws:SourceArn", vec![s.to_string()]);
                }
                if let Some(a) = facts.source_account {
                    m.set_owned("aws:SourceAccount", vec![a.to_string()]);
                }
            }
        }
        if let Some(a) = facts.resource_account {
            m.set_owned("aws:ResourceAccount", vec![a.to_string()]);
        }
        if let Some(o) = facts.resource_org {
            m.set_owned("aws:ResourceOrgID", vec![o.org_id.clone()]);
            m.set_owned("aws:ResourceOrgPaths", vec![o.path.clone()]);
        }
        if let Some(a) = Arn::parse(resource) {
            if !a.account.is_empty() && facts.resource_account.is_none() {
                m.set_owned("aws:ResourceAccount", vec![a.account.to_string()]);
            }
            if !a.region.is_empty() {
                m.set_owned("aws:RequestedRegion", vec![a.region.to_string()]);
            }
        }
        if let (false, Some(r)) = (m.knows("aws:RequestedRegion"), facts.region) {
            m.set_owned("aws:RequestedRegion", vec![r.to_string()]);
        }
        if let Some(via) = facts.via_service {
            m.set_owned("kms:ViaService", vec![via.to_string()]);
            m.set_owned("aws:ViaAWSService", vec!["true".to_string()]);
        }
        if let Some(ip) = facts
            .source_ip
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        {
            m.set_owned("aws:SourceIp", vec![ip.to_string()]);
        }
        // Explicit keys override; a repeated key becomes multi-valued.
        let mut seen = std::collections::HashSet::new();
        for (k, v) in facts.given {
            let lk = k.to_ascii_lowercase();
            if seen.insert(lk) {
                m.set_owned(k, vec![v.clone()]);
            } else {
                m.push(k, v);
            }
        }
        RequestContext { map: m }
    }

    /// The underlying map, to add or inspect keys.
    pub fn map_mut(&mut self) -> &mut MapContext {
        &mut self.map
    }
}

impl Lookup for RequestContext {
    fn get(&self, key: &str) -> KeyState<'_> {
        self.map.get(key)
    }
}

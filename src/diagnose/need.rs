//! What a fix must grant, and to whom: diagnosis's account of the need that `suggest` turns
//! into statements and commands. Diagnosis owns it so that the fix builder reads diagnosis's
//! output and nothing flows back.

use serde_json::Value;

use crate::policy::vocab::{Cause, Kind, Target};

/// Everything the fix depends on.
#[derive(Debug, Clone, Default)]
pub struct Need {
    /// What was observed, as the diagnosis found it (always set by diagnosis; None by default).
    pub kind: Option<Kind>,
    /// The cause, which decides the kind of fix (grant, narrow a deny, fix a trust policy).
    pub cause: Cause,
    /// The role, user or service principal to grant to; None when no one can be named.
    pub principal: Option<String>,
    /// The function's name, for commands that take it (`aws lambda add-permission`).
    pub function: Option<String>,
    /// Every action the message names, in canonical case, the denied one first.
    pub actions: Vec<String>,
    /// The resource the fix's statement names; None when the log does not say.
    pub resource: Option<String>,
    /// The queue, stream or cluster an event source mapping reads (`eventSourceArn`).
    pub event_source_arn: Option<String>,
    /// The dead-letter target or a mapping's on-failure destination the request names.
    pub target_arn: Option<String>,
    /// The KMS key involved: the request's, else the function's configured key for a KMS error.
    pub kms_key: Option<String>,
    /// For invoke permissions: the service that must be allowed, its source and account.
    pub service_principal: Option<String>,
    /// The source the service acts for (a bucket, an API, a target group), for `aws:SourceArn`.
    pub source_arn: Option<String>,
    /// The account the source belongs to, for `aws:SourceAccount`; else the denial's account.
    pub source_account: Option<String>,
    /// The policy a message blames.
    pub policy_arn: Option<String>,
    /// The region, for naming resources in the fix and checking it against the service reference.
    pub region: Option<String>,
    /// Everything the party needs, when the integration catalog says (else the setup catalog
    /// or the denied actions decide).
    pub grants: Vec<super::integration::Grant>,
    /// The owner who must change something, when the catalog says.
    pub target: Option<Target>,
    /// The account that must run the fix, when not the denied principal's.
    pub fix_account: Option<String>,
    /// The VPC endpoint the request went through.
    pub vpc_endpoint: Option<String>,
    /// The denied principal as imported (shared with the store's memo, not copied): its inline
    /// policies, which a fix must not replace.
    pub principal_row: Option<std::sync::Arc<crate::policy::snapshot::PrincipalRow>>,
}

impl Need {
    /// The denied principal's inline policies, when imported.
    pub fn inline_policies(&self) -> &[(String, Value)] {
        self.principal_row
            .as_ref()
            .and_then(|r| r.inline.as_deref())
            .unwrap_or_default()
    }

    /// A 128-bit digest of every field, for remembering the fix built for this need. Values are
    /// streamed into the hasher as JSON, nothing is formatted or allocated: the digest is taken
    /// for every denial, and the principal's inline policies can be large.
    pub fn digest(&self) -> u128 {
        use std::io::Write as _;
        struct Sink<'a>(&'a mut xxhash_rust::xxh3::Xxh3);
        impl std::io::Write for Sink<'_> {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.update(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        // Every field, by name: a field added to the need and left out here does not compile.
        let Need {
            kind,
            cause,
            principal,
            function,
            actions,
            resource,
            event_source_arn,
            target_arn,
            kms_key,
            service_principal,
            source_arn,
            source_account,
            policy_arn,
            region,
            grants,
            target,
            fix_account,
            vpc_endpoint,
            // Of the row, a fix reads only the inline policies, digested below.
            principal_row: _,
        } = self;
        let inline_policies = self.inline_policies();
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        // Each field ends with a separator no value holds, so that fields cannot run together.
        fn text(h: &mut xxhash_rust::xxh3::Xxh3, s: Option<&str>) {
            match s {
                Some(s) => {
                    h.update(b"+");
                    h.update(s.as_bytes());
                }
                None => h.update(b"-"),
            }
            h.update(&[0]);
        }
        fn json(h: &mut xxhash_rust::xxh3::Xxh3, v: &Value) {
            let _ = serde_json::to_writer(Sink(h), v);
            h.update(&[0]);
        }
        text(&mut h, kind.map(|k| k.as_str()));
        text(&mut h, Some(cause.as_str()));
        text(&mut h, principal.as_deref());
        text(&mut h, function.as_deref());
        h.update(&(actions.len() as u64).to_le_bytes());
        for a in actions {
            text(&mut h, Some(a));
        }
        for f in [
            resource,
            event_source_arn,
            target_arn,
            kms_key,
            service_principal,
            source_arn,
            source_account,
            policy_arn,
            region,
        ] {
            text(&mut h, f.as_deref());
        }
        h.update(&(grants.len() as u64).to_le_bytes());
        for g in grants {
            h.update(&(g.actions.len() as u64).to_le_bytes());
            for a in &g.actions {
                text(&mut h, Some(a));
            }
            text(&mut h, g.resource.as_deref());
            match &g.condition {
                Some(c) => json(&mut h, c),
                None => h.update(b"-\0"),
            }
        }
        text(&mut h, target.map(|t| t.as_str()));
        text(&mut h, fix_account.as_deref());
        text(&mut h, vpc_endpoint.as_deref());
        h.update(&(inline_policies.len() as u64).to_le_bytes());
        for (name, doc) in inline_policies {
            text(&mut h, Some(name));
            json(&mut h, doc);
        }
        let _ = Sink(&mut h).flush();
        h.digest128()
    }

    /// The facts a setup grant's resource is named from.
    pub fn grant_facts(&self) -> crate::rules::GrantFacts<'_> {
        crate::rules::GrantFacts {
            event_source: self.event_source_arn.as_deref(),
            resource: self.resource.as_deref(),
            target: self.target_arn.as_deref(),
            key: self.kms_key.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest tells needs apart by every field, and cannot be fooled by fields running
    /// together.
    #[test]
    fn digest_tells_needs_apart() {
        let a = Need {
            principal: Some("arn:aws:iam::1:role/a".into()),
            actions: vec!["s3:GetObject".into()],
            ..Need::default()
        };
        assert_eq!(a.digest(), a.clone().digest());
        let mut b = a.clone();
        b.principal_row = Some(std::sync::Arc::new(crate::policy::snapshot::PrincipalRow {
            inline: Some(vec![("p".into(), serde_json::json!({"Statement": []}))]),
            ..Default::default()
        }));
        assert_ne!(a.digest(), b.digest());
        let mut c = a.clone();
        c.actions = vec!["s3:Get".into(), "Object".into()];
        assert_ne!(a.digest(), c.digest());
        let mut d = a.clone();
        d.resource = Some(String::new());
        assert_ne!(
            a.digest(),
            d.digest(),
            "an empty resource is not no resource"
        );
    }
}

//! The words every stage shares: which kind of policy decided, why a request was denied, who must
//! change what, and what the stored policies say today.
//!
//! Each is an enum whose serde name is the one CONTRACT.md gives, so a finding's JSON, the
//! database's text columns and the command line's filters all spell a value the same way, and a
//! misspelt cause is a compile error rather than a finding nobody can filter for. The message
//! grammar, the evaluator, diagnosis and the fix builder speak this one vocabulary: a policy kind
//! is the same value whether a message blames it, a verdict names it or a cause is made from it.

use serde::{Deserialize, Serialize};

/// Generates `as_str`, `parse`, `ALL`, `Display` and `FromStr` for a field-less enum from one
/// table of variants and contract names, so the names are written once.
macro_rules! named {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The contract's name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// Parses the contract's name.
            pub fn parse(s: &str) -> Option<$ty> {
                match s {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<$ty, UnknownName> {
                $ty::parse(s).ok_or_else(|| UnknownName {
                    what: stringify!($ty),
                    name: s.to_string(),
                })
            }
        }
    };
}

/// A name that is not one of the contract's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    /// The vocabulary (`Cause`, `Target`...).
    pub what: &'static str,
    /// The name given.
    pub name: String,
}

/// What was observed: a finding's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A call denied at run time.
    AccessDenied,
    /// An event source mapping, VPC, tracing, dead-letter or trust check failed at setup.
    TriggerSetup,
    /// A service may not invoke the function.
    InvokePermission,
    /// KMS denied decrypting a function's environment.
    Kms,
}

named!(Kind {
    AccessDenied => "access_denied",
    TriggerSetup => "trigger_setup",
    InvokePermission => "invoke_permission",
    Kms => "kms",
});

/// The kinds of policy AWS evaluates, as a message blames them, a verdict names them and a
/// cause is made of them.
///
/// The PascalCase aliases read denials stored before the names were unified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// The principal's own policies: inline, attached managed, and its groups'.
    #[serde(alias = "Identity")]
    Identity,
    /// The resource's own policy (a bucket, queue, topic, key, secret or function policy).
    #[serde(alias = "Resource")]
    Resource,
    /// The managed policy set as the principal's permissions boundary: the most it may be granted.
    #[serde(alias = "Boundary")]
    PermissionsBoundary,
    /// Service control policies: the most an organization lets its accounts' principals do.
    #[serde(alias = "Scp")]
    Scp,
    /// Resource control policies: the most an organization lets be done to its accounts' resources.
    #[serde(alias = "Rcp")]
    Rcp,
    /// Policies passed when a session was assumed or federated (not in the logs).
    #[serde(alias = "Session")]
    Session,
    /// The policy of the VPC endpoint a request went through.
    #[serde(alias = "VpcEndpoint")]
    VpcEndpoint,
    /// A role's trust policy, which decides who may assume it.
    #[serde(alias = "Trust")]
    Trust,
}

named!(PolicyKind {
    Identity => "identity",
    Resource => "resource",
    PermissionsBoundary => "permissions_boundary",
    Scp => "scp",
    Rcp => "rcp",
    Session => "session",
    VpcEndpoint => "vpc_endpoint",
    Trust => "trust",
});

impl PolicyKind {
    /// How people call it, as AWS's messages do.
    pub fn describe(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity-based policy",
            PolicyKind::Resource => "resource-based policy",
            PolicyKind::Scp => "service control policy",
            PolicyKind::Rcp => "resource control policy",
            PolicyKind::PermissionsBoundary => "permissions boundary",
            PolicyKind::Session => "session policy",
            PolicyKind::VpcEndpoint => "VPC endpoint policy",
            PolicyKind::Trust => "role trust policy",
        }
    }
}

/// Why a request was denied (CONTRACT.md gives each value's meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// No identity-based policy allows the action.
    NoIdentityAllow,
    /// No resource-based policy allows it, where one must (across accounts, for a service).
    NoResourceAllow,
    /// The permissions boundary does not allow the action.
    NoBoundaryAllow,
    /// A service control policy at some level above the account does not allow the action.
    NoScpAllow,
    /// A resource control policy above the resource's account does not allow the action.
    NoRcpAllow,
    /// The session policy does not allow the action.
    NoSessionAllow,
    /// The VPC endpoint's policy does not allow the action.
    NoVpcEndpointAllow,
    /// A `Deny` in an identity-based policy.
    ExplicitDenyIdentity,
    /// A `Deny` in the resource's policy.
    ExplicitDenyResource,
    /// A `Deny` in the permissions boundary.
    ExplicitDenyBoundary,
    /// A `Deny` in a service control policy.
    ExplicitDenyScp,
    /// A `Deny` in a resource control policy.
    ExplicitDenyRcp,
    /// A `Deny` in a session policy.
    ExplicitDenySession,
    /// A `Deny` in the VPC endpoint's policy.
    ExplicitDenyVpcEndpoint,
    /// An explicit deny whose policy the message does not name.
    ExplicitDeny,
    /// The role's trust policy does not let the service (Lambda) assume it.
    TrustPolicy,
    /// The stored policies allow it now: the grant was too recent, or credentials were stale.
    Propagation,
    /// The function's KMS key is disabled: no policy change helps.
    KeyDisabled,
    /// The message gives no reason and nothing imported decides one.
    #[default]
    Unknown,
    /// A reason other than a policy (S3's SSE-C or Block Public Access...), as the message says.
    OtherCondition,
}

named!(Cause {
    NoIdentityAllow => "no_identity_allow",
    NoResourceAllow => "no_resource_allow",
    NoBoundaryAllow => "no_boundary_allow",
    NoScpAllow => "no_scp_allow",
    NoRcpAllow => "no_rcp_allow",
    NoSessionAllow => "no_session_allow",
    NoVpcEndpointAllow => "no_vpc_endpoint_allow",
    ExplicitDenyIdentity => "explicit_deny_identity",
    ExplicitDenyResource => "explicit_deny_resource",
    ExplicitDenyBoundary => "explicit_deny_boundary",
    ExplicitDenyScp => "explicit_deny_scp",
    ExplicitDenyRcp => "explicit_deny_rcp",
    ExplicitDenySession => "explicit_deny_session",
    ExplicitDenyVpcEndpoint => "explicit_deny_vpc_endpoint",
    ExplicitDeny => "explicit_deny",
    TrustPolicy => "trust_policy",
    Propagation => "propagation",
    KeyDisabled => "key_disabled",
    Unknown => "unknown",
    OtherCondition => "other_condition",
});

impl Cause {
    /// No statement of a policy of this kind allows the request. A trust policy that does not
    /// let the principal assume the role is `trust_policy` either way.
    pub fn no_allow(kind: PolicyKind) -> Cause {
        match kind {
            PolicyKind::Identity => Cause::NoIdentityAllow,
            PolicyKind::Resource => Cause::NoResourceAllow,
            PolicyKind::PermissionsBoundary => Cause::NoBoundaryAllow,
            PolicyKind::Scp => Cause::NoScpAllow,
            PolicyKind::Rcp => Cause::NoRcpAllow,
            PolicyKind::Session => Cause::NoSessionAllow,
            PolicyKind::VpcEndpoint => Cause::NoVpcEndpointAllow,
            PolicyKind::Trust => Cause::TrustPolicy,
        }
    }

    /// A statement of a policy of this kind denies the request.
    pub fn explicit_deny(kind: PolicyKind) -> Cause {
        match kind {
            PolicyKind::Identity => Cause::ExplicitDenyIdentity,
            PolicyKind::Resource => Cause::ExplicitDenyResource,
            PolicyKind::PermissionsBoundary => Cause::ExplicitDenyBoundary,
            PolicyKind::Scp => Cause::ExplicitDenyScp,
            PolicyKind::Rcp => Cause::ExplicitDenyRcp,
            PolicyKind::Session => Cause::ExplicitDenySession,
            PolicyKind::VpcEndpoint => Cause::ExplicitDenyVpcEndpoint,
            PolicyKind::Trust => Cause::TrustPolicy,
        }
    }

    /// The kind of policy the cause blames, when it names one.
    pub fn policy_kind(self) -> Option<PolicyKind> {
        Some(match self {
            Cause::NoIdentityAllow | Cause::ExplicitDenyIdentity => PolicyKind::Identity,
            Cause::NoResourceAllow | Cause::ExplicitDenyResource => PolicyKind::Resource,
            Cause::NoBoundaryAllow | Cause::ExplicitDenyBoundary => PolicyKind::PermissionsBoundary,
            Cause::NoScpAllow | Cause::ExplicitDenyScp => PolicyKind::Scp,
            Cause::NoRcpAllow | Cause::ExplicitDenyRcp => PolicyKind::Rcp,
            Cause::NoSessionAllow | Cause::ExplicitDenySession => PolicyKind::Session,
            Cause::NoVpcEndpointAllow | Cause::ExplicitDenyVpcEndpoint => PolicyKind::VpcEndpoint,
            Cause::TrustPolicy => PolicyKind::Trust,
            Cause::ExplicitDeny
            | Cause::Propagation
            | Cause::KeyDisabled
            | Cause::Unknown
            | Cause::OtherCondition => return None,
        })
    }

    /// A statement denies: the request cannot be allowed by adding a grant.
    pub fn is_explicit_deny(self) -> bool {
        matches!(
            self,
            Cause::ExplicitDenyIdentity
                | Cause::ExplicitDenyResource
                | Cause::ExplicitDenyBoundary
                | Cause::ExplicitDenyScp
                | Cause::ExplicitDenyRcp
                | Cause::ExplicitDenySession
                | Cause::ExplicitDenyVpcEndpoint
                | Cause::ExplicitDeny
        )
    }

    /// No statement allows: some policy lacks a grant.
    pub fn is_missing_allow(self) -> bool {
        matches!(
            self,
            Cause::NoIdentityAllow
                | Cause::NoResourceAllow
                | Cause::NoBoundaryAllow
                | Cause::NoScpAllow
                | Cause::NoRcpAllow
                | Cause::NoSessionAllow
                | Cause::NoVpcEndpointAllow
        )
    }
}

/// Whose policy (or what) the fix changes: `fix.target` (README's "Findings" table gives each
/// one's command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The denied role's or user's identity policy (attach a managed policy, or put an inline one).
    IdentityPolicy,
    /// A bucket, queue, topic or secret policy, put back whole with the statement merged.
    ResourcePolicy,
    /// The role's trust policy (`aws iam update-assume-role-policy`).
    TrustPolicy,
    /// The permissions boundary, changed by its administrator (a new default policy version).
    PermissionsBoundary,
    /// A service control policy, changed from the organization's management account.
    Scp,
    /// A resource control policy, changed from the organization's management account.
    Rcp,
    /// A KMS key's policy (`aws kms put-key-policy`).
    KeyPolicy,
    /// The function's resource policy (`aws lambda add-permission`).
    FunctionPolicy,
    /// A layer version's policy, changed by the layer's owner (`add-layer-version-permission`).
    LayerPolicy,
    /// An ECR repository's policy, changed by its owner (`aws ecr set-repository-policy`).
    RepositoryPolicy,
    /// The policy of the VPC endpoint the request went through (`aws ec2 modify-vpc-endpoint`).
    VpcEndpointPolicy,
    /// The principal's tags, which an attribute-based condition tests (`aws iam tag-role`).
    PrincipalTags,
    /// Nothing to change: propagation, a disabled key, an unsigned request.
    None,
}

named!(Target {
    IdentityPolicy => "identity_policy",
    ResourcePolicy => "resource_policy",
    TrustPolicy => "trust_policy",
    PermissionsBoundary => "permissions_boundary",
    Scp => "scp",
    Rcp => "rcp",
    KeyPolicy => "key_policy",
    FunctionPolicy => "function_policy",
    LayerPolicy => "layer_policy",
    RepositoryPolicy => "repository_policy",
    VpcEndpointPolicy => "vpc_endpoint_policy",
    PrincipalTags => "principal_tags",
    None => "none",
});

impl Target {
    /// A resource's own policy, written back whole with the statement merged.
    pub fn is_resource_side(self) -> bool {
        matches!(
            self,
            Target::ResourcePolicy
                | Target::KeyPolicy
                | Target::FunctionPolicy
                | Target::LayerPolicy
                | Target::RepositoryPolicy
                | Target::VpcEndpointPolicy
        )
    }
}

/// What the stored policies say about the request today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyState {
    /// The stored policies deny it still.
    Denied,
    /// The stored policies allow it now (granted since, or the caller used other credentials).
    AllowedNow,
    /// The policies that decide were never imported.
    Unknown,
}

named!(PolicyState {
    Denied => "denied",
    AllowedNow => "allowed_now",
    Unknown => "unknown",
});

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail by panicking")]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_contract_names() {
        for c in Cause::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(Cause::parse(c.as_str()), Some(*c));
        }
        for t in Target::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for k in PolicyKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in PolicyState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn causes_made_of_a_kind_name_it_back() {
        for k in PolicyKind::ALL {
            assert_eq!(Cause::no_allow(*k).policy_kind(), Some(*k));
            assert_eq!(Cause::explicit_deny(*k).policy_kind(), Some(*k));
        }
        assert_eq!(Cause::ALL.len(), 20);
        assert!(Cause::ExplicitDeny.is_explicit_deny());
        assert!(!Cause::TrustPolicy.is_missing_allow());
    }

    #[test]
    fn denials_stored_with_the_old_names_still_read() {
        let k: PolicyKind = serde_json::from_str("\"Boundary\"").unwrap();
        assert_eq!(k, PolicyKind::PermissionsBoundary);
        let k: PolicyKind = serde_json::from_str("\"VpcEndpoint\"").unwrap();
        assert_eq!(k, PolicyKind::VpcEndpoint);
    }
}

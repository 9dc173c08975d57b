//! Who is calling: a bearer token or a client certificate, looked up by SHA-256 among the
//! policy's principals. What they may do is decided per route with [`Caller::require`].

use super::error::ApiError;
use crate::policy::{ArchivePolicy, Role};
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

/// The SHA-256 of the TLS client certificate of this connection, set by the TLS acceptor.
#[derive(Debug, Clone)]
pub struct PeerCert(pub Option<String>);

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// Credentials that match no principal.
    Unknown,
    /// A principal of the policy.
    Principal {
        /// Its name.
        name: String,
        /// Its role.
        role: Role,
    },
}

impl Caller {
    /// Identifies the caller: a client certificate wins over a token.
    pub fn identify(
        policy: &ArchivePolicy,
        headers: &HeaderMap,
        peer: Option<&PeerCert>,
    ) -> Caller {
        let cert = peer.and_then(|p| p.0.as_deref());
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| crate::verify::certificate::hex(&Sha256::digest(t.trim().as_bytes())));
        if cert.is_none() && token.is_none() {
            return Caller::Anonymous;
        }
        let found = policy.principals.iter().find(|p| {
            cert.is_some_and(|c| p.client_cert_sha256.as_deref() == Some(c))
                || token
                    .as_deref()
                    .is_some_and(|t| p.token_sha256.as_deref() == Some(t))
        });
        match found {
            Some(p) => Caller::Principal {
                name: p.name.clone(),
                role: p.role,
            },
            None => Caller::Unknown,
        }
    }

    /// The principal's name, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Caller::Principal { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The role, if any.
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Principal { role, .. } => Some(*role),
            _ => None,
        }
    }

    /// Fails with 401 without a known principal, 403 when its role is not among `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<Role, ApiError> {
        match self {
            Caller::Anonymous => Err(ApiError::Unauthenticated(
                "This request needs a bearer token or a client certificate.".into(),
            )),
            Caller::Unknown => Err(ApiError::Unauthenticated(
                "The token or client certificate is not one of a known principal.".into(),
            )),
            Caller::Principal { name, role } if !roles.contains(role) => Err(ApiError::Forbidden(
                format!("Principal {name} ({}) may not do this.", role_name(*role)),
            )),
            Caller::Principal { role, .. } => Ok(*role),
        }
    }
}

/// The role as written in the policy.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Chancellery => "chancellery",
        Role::Archivist => "archivist",
        Role::Auditor => "auditor",
        Role::Admin => "admin",
    }
}

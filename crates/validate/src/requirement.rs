//! [`Requirement`]: which scopes or app roles a request needs.
//!
//! A requirement is a list of clauses that must all hold; a clause holds when the token
//! carries *any* of its scopes or *any* of its roles. So
//! `Requirement::scope("Data.Read").or_role("Data.Read.All")` admits a user token with
//! the delegated scope and a daemon token with the app role, and
//! `.and(Requirement::role("Admin"))` additionally needs the `Admin` role.
//!
//! [`Requirement::auth_context`] adds a Conditional Access authentication context the
//! token must carry in `acrs`; a token without it is refused with a claims challenge
//! (401 `insufficient_claims`), after the scope and role clauses.

use crate::error::ValidationError;
use crate::principal::Principal;

/// Scopes and roles a request needs (all clauses; any-of within a clause).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    clauses: Vec<Clause>,
    /// Authentication contexts (`acrs`) the token must all carry.
    contexts: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Clause {
    scopes: Vec<String>,
    roles: Vec<String>,
}

impl Requirement {
    /// Needs the delegated scope `scope`.
    pub fn scope(scope: impl Into<String>) -> Self {
        Self::any_of([scope.into()], [])
    }

    /// Needs the app role `role`.
    pub fn role(role: impl Into<String>) -> Self {
        Self::any_of([], [role.into()])
    }

    /// Needs any one of `scopes` or `roles`.
    pub fn any_of<S, R>(scopes: S, roles: R) -> Self
    where
        S: IntoIterator<Item = String>,
        R: IntoIterator<Item = String>,
    {
        Self {
            clauses: vec![Clause {
                scopes: scopes.into_iter().collect(),
                roles: roles.into_iter().collect(),
            }],
            contexts: Vec::new(),
        }
    }

    /// Needs the Conditional Access authentication context `id` (`c1` to `c99`) in the
    /// token's `acrs`: sensitive operations can demand a step-up (MFA, a compliant
    /// device...) that the tenant's policy for that context enforces. Combine with
    /// [`and`](Self::and): `Requirement::scope("Data.Write").and(Requirement::auth_context("c1"))`.
    pub fn auth_context(id: impl Into<String>) -> Self {
        Self {
            clauses: Vec::new(),
            contexts: vec![id.into()],
        }
    }

    /// Also accept `scope` in the last clause.
    #[must_use]
    pub fn or_scope(mut self, scope: impl Into<String>) -> Self {
        self.last().scopes.push(scope.into());
        self
    }

    /// Also accept `role` in the last clause.
    #[must_use]
    pub fn or_role(mut self, role: impl Into<String>) -> Self {
        self.last().roles.push(role.into());
        self
    }

    /// Needs this and `other`.
    #[must_use]
    pub fn and(mut self, other: Requirement) -> Self {
        self.clauses.extend(other.clauses);
        self.contexts.extend(other.contexts);
        self
    }

    fn last(&mut self) -> &mut Clause {
        if self.clauses.is_empty() {
            self.clauses.push(Clause::default());
        }
        self.clauses.last_mut().expect("one clause")
    }

    /// Ok when `principal` meets every clause and carries every authentication
    /// context; otherwise the first unmet clause as
    /// [`ValidationError::InsufficientScope`], or the first missing context as
    /// [`ValidationError::InsufficientClaims`] with the claims to ask for.
    pub fn check(&self, principal: &Principal) -> Result<(), ValidationError> {
        for clause in &self.clauses {
            let empty = clause.scopes.is_empty() && clause.roles.is_empty();
            let met = empty
                || clause.scopes.iter().any(|s| principal.has_scope(s))
                || clause.roles.iter().any(|r| principal.has_role(r));
            if !met {
                let mut wanted: Vec<String> =
                    clause.scopes.iter().map(|s| format!("scope {s}")).collect();
                wanted.extend(clause.roles.iter().map(|r| format!("role {r}")));
                return Err(ValidationError::InsufficientScope {
                    scopes: clause.scopes.clone(),
                    roles: clause.roles.clone(),
                    description: format!("the token needs {}", wanted.join(" or ")),
                });
            }
        }
        if let Some(missing) = self.contexts.iter().find(|c| {
            !principal
                .auth_contexts()
                .iter()
                .any(|have| have == &c.as_str())
        }) {
            let claims = serde_json::json!({
                "access_token": { "acrs": { "essential": true, "value": missing } }
            });
            return Err(ValidationError::InsufficientClaims {
                description: format!("the token lacks the authentication context {missing}"),
                claims: claims.to_string(),
            });
        }
        Ok(())
    }
}

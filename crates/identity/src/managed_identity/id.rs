//! Which managed identity a credential asks for ([`ManagedIdentityId`]), and how each
//! host names it in a request.

use super::host::ManagedIdentityHost;
use crate::error::Error;

/// Which managed identity: the host's system-assigned one, or a user-assigned one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum ManagedIdentityId {
    /// The system-assigned identity (or whatever the host uses by default).
    #[default]
    System,
    /// A user-assigned identity by client (application) id.
    ClientId(String),
    /// A user-assigned identity by object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by Azure resource id.
    ResourceId(String),
}

impl ManagedIdentityId {
    pub(super) fn cache_id(&self) -> String {
        match self {
            ManagedIdentityId::System => "system".into(),
            ManagedIdentityId::ClientId(c) => format!("client_id:{c}"),
            ManagedIdentityId::ObjectId(o) => format!("object_id:{o}"),
            ManagedIdentityId::ResourceId(r) => format!("resource_id:{r}"),
        }
    }

    pub(super) fn describe(&self) -> String {
        match self {
            ManagedIdentityId::System => "the system-assigned identity".into(),
            ManagedIdentityId::ClientId(c) => format!("the identity with client id {c}"),
            ManagedIdentityId::ObjectId(o) => format!("the identity with object id {o}"),
            ManagedIdentityId::ResourceId(r) => format!("the identity with resource id {r}"),
        }
    }

    /// The query parameter selecting this identity, given the host's names for client id,
    /// object id and resource id (`None`: the host cannot select by that).
    pub(super) fn param<'a>(
        &'a self,
        host: ManagedIdentityHost,
        names: [Option<&'static str>; 3],
    ) -> Result<Option<(&'static str, &'a str)>, Error> {
        let (slot, value) = match self {
            ManagedIdentityId::System => return Ok(None),
            ManagedIdentityId::ClientId(v) => (0, v),
            ManagedIdentityId::ObjectId(v) => (1, v),
            ManagedIdentityId::ResourceId(v) => (2, v),
        };
        match names[slot] {
            Some(name) => Ok(Some((name, value.as_str()))),
            None if names.iter().all(Option::is_none) => Err(Error::Config(format!(
                "{} managed identity supports only the system-assigned identity, not {}; leave the identity unset (and AZURE_CLIENT_ID too, with a chain)",
                host.name(),
                self.describe()
            ))),
            None => Err(Error::Config(format!(
                "{} managed identity selects a user-assigned identity by client id only, not {}",
                host.name(),
                self.describe()
            ))),
        }
    }
}

//! The kinds of managed-identity host ([`ManagedIdentityHost`]) and the credential's name
//! in messages.

/// The credential's name in errors.
pub(super) const NAME: &str = "ManagedIdentityCredential";

/// The kinds of managed-identity host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentityHost {
    /// Azure VMs and scale sets (Instance Metadata Service), AKS pod identity.
    Imds,
    /// App Service, Functions, Container Apps (api-version 2019-08-01).
    AppService,
    /// Legacy App Service (api-version 2017-09-01).
    AppService2017,
    /// Azure Machine Learning (the 2017-09-01 protocol, `DEFAULT_IDENTITY_CLIENT_ID`).
    AzureMl,
    /// Azure Arc-enabled servers.
    AzureArc,
    /// Azure Cloud Shell.
    CloudShell,
    /// Service Fabric.
    ServiceFabric,
    /// AKS workload identity (a federated token file).
    WorkloadIdentity,
}

impl ManagedIdentityHost {
    /// A human name, used in messages.
    pub fn name(self) -> &'static str {
        match self {
            ManagedIdentityHost::Imds => "IMDS",
            ManagedIdentityHost::AppService => "App Service (2019-08-01)",
            ManagedIdentityHost::AppService2017 => "App Service (2017-09-01)",
            ManagedIdentityHost::AzureMl => "Azure ML",
            ManagedIdentityHost::AzureArc => "Azure Arc",
            ManagedIdentityHost::CloudShell => "Cloud Shell",
            ManagedIdentityHost::ServiceFabric => "Service Fabric",
            ManagedIdentityHost::WorkloadIdentity => "workload identity",
        }
    }

    pub(super) fn key(self) -> &'static str {
        match self {
            ManagedIdentityHost::Imds => "imds",
            ManagedIdentityHost::AppService => "app-service",
            ManagedIdentityHost::AppService2017 => "app-service-2017",
            ManagedIdentityHost::AzureMl => "azure-ml",
            ManagedIdentityHost::AzureArc => "azure-arc",
            ManagedIdentityHost::CloudShell => "cloud-shell",
            ManagedIdentityHost::ServiceFabric => "service-fabric",
            ManagedIdentityHost::WorkloadIdentity => "workload-identity",
        }
    }
}

// billing-archive on Azure: Cosmos DB (live records, archive index, run history), a storage account
// with the archive container and its lifecycle policy and the audit container under a time-based
// immutability policy, a Key Vault holding the API's keys, and one Linux App Service plan hosting the
// API (a web app) and the archival timer (a Function app). Both apps reach the stores with their
// system-assigned managed identities, each role scoped as narrowly as the app allows: no storage or
// Cosmos keys or connection strings anywhere.
//
// Untested here: neither the Bicep CLI nor Azure is reachable from our machines. Deploy with
//   az deployment group create -g <resource-group> -f infra/main.bicep \
//     -p namePrefix=<prefix> apiKeys=<entry from `npx billing-archive keys create --name ci --role admin`>

@description('Prefix of every resource name: 3 to 11 lowercase letters and digits.')
@minLength(3)
@maxLength(11)
param namePrefix string

param location string = resourceGroup().location

@description('Archive container: the lifecycle policy\'s prefixes are moved to it.')
param archiveContainer string = 'billing-archive'

@description('Audit trail container (AUDIT_BLOB_CONTAINER): one append blob per UTC day.')
param auditContainer string = 'billing-audit'

@description('Days each audit blob stays immutable after creation (2555: about seven years).')
@minValue(1)
@maxValue(146000)
param auditRetentionDays int = 2555

@description('Whether this template manages the audit container\'s immutability policy. Set false once an operator has locked it: a locked policy can only be extended, so the template must leave it alone.')
param manageAuditImmutability bool = true

@description('API_KEYS: comma-separated name:role[+role...]:sha256hex entries. `npx billing-archive keys create --name ci --role admin` prints one. Stored as the Key Vault secret api-keys; the template passes the web app only a reference to it.')
@secure()
@minLength(1)
param apiKeys string

@description('SESSION_SECRET: signs the console\'s browser sessions, shared by every instance of the web app. A new one each deployment by default, which signs everyone out; pass one (32+ characters) to keep sessions across deployments. Stored as the Key Vault secret session-secret.')
@secure()
@minLength(32)
param sessionSecret string = '${newGuid()}${newGuid()}'

@description('Key Vault name (3 to 24 letters, digits and hyphens, starting with a letter). Purge protection holds a deleted vault\'s name for 90 days: choose another name to redeploy within that time.')
@minLength(3)
@maxLength(24)
param keyVaultName string = '${namePrefix}-kv'

@description('Microsoft Entra tenant id. With entraApiClientId, the API also accepts Entra access tokens (app roles in the roles claim).')
param entraTenantId string = ''

@description('Client id of the API\'s Entra app registration: the audience its v2 access tokens carry.')
param entraApiClientId string = ''

@description('The console\'s sign-in by redirect at Entra ID: https://<web app host or custom domain>/login/entra/callback, registered as a Web redirect URI on the same app registration. Needs entraTenantId, entraApiClientId and entraClientSecret.')
param consoleRedirectUrl string = ''

@description('A client secret of that app registration, for the console\'s sign-in by redirect. Stored as the Key Vault secret entra-client-secret.')
@secure()
param entraClientSecret string = ''

@description('Six-field cron (UTC) for the Function\'s archival runs.')
param archivalSchedule string = '0 0 0 * * *'

@description('ARCHIVE_INDEX for both apps. blob (new deployments): the archive index as files in the archive container, where an archived 1 KB record costs under 1% of a live one (BENCHMARKS.md). cosmos: documents in the archive_index container. A deployment made before this parameter indexes in Cosmos DB: pass cosmos until `billing-archive index migrate` has moved the index (docs/OPERATIONS.md); on blob over an archive indexed elsewhere, the apps refuse to start.')
@allowed(['blob', 'cosmos'])
param archiveIndex string = 'blob'

@description('App Service plan size for the API and the Function app.')
param planSku string = 'B1'

var databaseName = 'billingdb'
var containers = [
  // Every path, as Cosmos DB's default, and the composite index GET /billing's creation order needs.
  {
    name: 'records'
    partitionKey: '/id'
    extra: { indexingPolicy: loadJsonContent('records-indexing-policy.json') }
  }
  // Only the paths the index's queries filter on; the service creates it with the same file.
  {
    name: 'archive_index'
    partitionKey: '/id'
    extra: { indexingPolicy: loadJsonContent('archive-index-indexing-policy.json') }
  }
  { name: 'archive_runs', partitionKey: '/id', extra: {} }
  { name: 'legal_holds', partitionKey: '/record_id', extra: {} }
  { name: 'restore_jobs', partitionKey: '/id', extra: {} }
]
// Built-in role definitions.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var cosmosDataContributor = '00000000-0000-0000-0000-000000000002'

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: '${namePrefix}-cosmos'
  location: location
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [{ locationName: location, failoverPriority: 0 }]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    // Managed identities only: account keys are refused.
    disableLocalAuth: true
    capabilities: [{ name: 'EnableServerless' }]
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: cosmos
  name: databaseName
  properties: { resource: { id: databaseName } }
}

resource cosmosContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [
  for container in containers: {
    parent: database
    name: container.name
    properties: {
      resource: union(
        {
          id: container.name
          partitionKey: { paths: [container.partitionKey], kind: 'Hash' }
        },
        container.extra
      )
    }
  }
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: '${namePrefix}archive'
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource archive 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: archiveContainer
  properties: { publicAccess: 'None' }
}

// The audit trail: one append blob per UTC day, written by both apps.
resource audit 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: auditContainer
  properties: { publicAccess: 'None' }
}

// Container-level WORM: for auditRetentionDays after its creation, no blob in the container can be
// overwritten or deleted by anyone, whatever their role; allowProtectedAppendWrites still lets the
// day's append blob grow (new blocks only, nothing written is changed). The policy stays UNLOCKED:
// it can be shortened or removed, which is what lets a mistaken deployment be undone. Locking it
// (az storage container immutability-policy lock) is an operator's decision and irreversible: the
// period can then only be extended, never shortened or removed, and the protected blobs cannot be
// deleted until it ends. After locking, redeploy with manageAuditImmutability=false.
resource auditImmutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (manageAuditImmutability) {
  parent: audit
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: auditRetentionDays
    allowProtectedAppendWrites: true
  }
}

// The same rules `billing-archive lifecycle deploy` applies; see docs/OPERATIONS.md "Blob lifecycle policy".
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: json(replace(loadTextContent('blob-lifecycle-policy.json'), '"billing-archive/', '"${archiveContainer}/'))
  }
}

// The API's keys. RBAC authorization only (no access policies); soft delete and purge protection,
// so a deleted vault and its secret can be recovered for 90 days and cannot be purged before.
// Public network access as the other resources here; access still needs an Entra identity.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    accessPolicies: []
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

// Every deployment writes apiKeys as the secret's new version: the template is where keys change.
resource apiKeysSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'api-keys'
  properties: {
    value: apiKeys
    contentType: 'name:role[+role...]:sha256hex, comma-separated'
  }
}

resource sessionSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'session-secret'
  properties: {
    value: sessionSecret
    contentType: 'random text, 32+ characters'
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${namePrefix}-plan'
  location: location
  kind: 'linux'
  sku: { name: planSku }
  properties: { reserved: true }
}

var storeSettings = [
  { name: 'COSMOS_ENDPOINT', value: cosmos.properties.documentEndpoint }
  { name: 'COSMOS_DATABASE', value: databaseName }
  { name: 'BLOB_ACCOUNT_URL', value: storage.properties.primaryEndpoints.blob }
  { name: 'BLOB_CONTAINER', value: archiveContainer }
  { name: 'AUDIT_BLOB_CONTAINER', value: auditContainer }
  { name: 'ARCHIVE_INDEX', value: archiveIndex }
]

// Entra ID access tokens, when both parameters are set. The v2.0 issuer means the app registration
// must issue v2 tokens (requestedAccessTokenVersion 2 in its manifest), whose aud is the client id.
var loginEndpoint = environment().authentication.loginEndpoint // https://login.microsoftonline.com/
var entraSettings = empty(entraTenantId) || empty(entraApiClientId) ? [] : [
  { name: 'AUTH_JWT_ISSUER', value: '${loginEndpoint}${entraTenantId}/v2.0' }
  { name: 'AUTH_JWT_AUDIENCE', value: entraApiClientId }
  { name: 'AUTH_JWT_JWKS_URL', value: '${loginEndpoint}${entraTenantId}/discovery/v2.0/keys' }
]
// The console signs in as the API's own registration, asking for a token for itself.
var consoleSignIn = !empty(entraSettings) && !empty(consoleRedirectUrl) && !empty(entraClientSecret)
resource entraClientSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (consoleSignIn) {
  parent: vault
  name: 'entra-client-secret'
  properties: {
    value: entraClientSecret
    contentType: 'Entra ID client secret'
  }
}
var consoleSignInSettings = consoleSignIn ? [
  { name: 'AUTH_OIDC_CLIENT_ID', value: entraApiClientId }
  { name: 'AUTH_OIDC_REDIRECT_URL', value: consoleRedirectUrl }
  // By the vault's address, not the conditional resource's: no reference to what may not exist.
  { name: 'AUTH_OIDC_CLIENT_SECRET', value: '@Microsoft.KeyVault(SecretUri=${vault.properties.vaultUri}secrets/entra-client-secret)' }
] : []

resource api 'Microsoft.Web/sites@2023-12-01' = {
  name: '${namePrefix}-api'
  location: location
  kind: 'app,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve with the system identity (the default, stated for clarity).
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      linuxFxVersion: 'NODE|22-lts'
      appCommandLine: 'node dist/server.js'
      healthCheckPath: '/ready'
      alwaysOn: true
      appSettings: concat(storeSettings, entraSettings, consoleSignInSettings, [
        { name: 'API_PORT', value: '8080' }
        { name: 'WEBSITES_PORT', value: '8080' }
        // The Function app schedules archival; the API's own scheduler stays off.
        { name: 'ARCHIVAL_SCHEDULE', value: '' }
        // Resolved by App Service at start (versionless: a new secret version is picked up within
        // 24 hours or on restart). Until the identity's role below has propagated, App Service
        // passes this reference text itself: restart the web app once after the first deployment.
        { name: 'API_KEYS', value: '@Microsoft.KeyVault(SecretUri=${apiKeysSecret.properties.secretUri})' }
        { name: 'SESSION_SECRET', value: '@Microsoft.KeyVault(SecretUri=${sessionSecretValue.properties.secretUri})' }
        // App Service's front end is the one proxy: the client is the last X-Forwarded-For hop.
        { name: 'TRUST_PROXY', value: '1' }
        // POST /archive/sync runs archival here too: a run of 1,000,000 records fits in 128 MB of heap
        // (BENCHMARKS.md, "Memory of an archival run"); the rest is for the API.
        { name: 'NODE_OPTIONS', value: '--max-old-space-size=384' }
      ])
    }
  }
}

// No App Service Authentication (Easy Auth, authsettingsV2) in front of the API: the API validates
// Entra tokens itself (signature, issuer, audience, app roles), and Easy Auth requiring a login would
// turn away the API-key callers.

resource archivalFunction 'Microsoft.Web/sites@2023-12-01' = {
  name: '${namePrefix}-archival'
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      // The Functions v4 host runs Node 22 (Node 20 reached end of life in April 2026).
      linuxFxVersion: 'NODE|22'
      // A timer on a dedicated plan fires only while the app is loaded.
      alwaysOn: true
      appSettings: concat(storeSettings, [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'node' }
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'ARCHIVAL_SCHEDULE', value: archivalSchedule }
        // Twice the 128 MB of heap a run of 1,000,000 records was measured in.
        { name: 'NODE_OPTIONS', value: '--max-old-space-size=256' }
      ])
    }
  }
}

// Role assignment names must be known when the deployment starts, so they are made from the apps'
// resource ids; their principal ids exist only once the apps do, and go in the properties alone.
// (Loops run over literal lists for the same reason.)
var appIds = { api: api.id, archival: archivalFunction.id }
var appPrincipalIds = { api: api.identity.principalId, archival: archivalFunction.identity.principalId }
var appKeys = ['api', 'archival']

// Blob data for both apps, on the two containers they use and nothing else: archive blobs and lock
// leases in the archive container, the day blobs in the audit container.
resource archiveRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for app in appKeys: {
    scope: archive
    name: guid(archive.id, appIds[app], storageBlobDataContributor)
    properties: {
      principalId: appPrincipalIds[app]
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    }
  }
]

resource auditRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for app in appKeys: {
    scope: audit
    name: guid(audit.id, appIds[app], storageBlobDataContributor)
    properties: {
      principalId: appPrincipalIds[app]
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    }
  }
]

// The Functions host's own state (AzureWebJobsStorage__accountName: timer schedule and singleton
// locks in the azure-webjobs-* containers, which the host creates itself, and queues): Microsoft
// documents Storage Blob Data Owner and Storage Queue Data Contributor on the account for an
// identity-based AzureWebJobsStorage. Owner covers every container, so the container grants above
// add nothing for the Function app today; they say what the archival code itself needs, should the
// host's storage move to an account of its own. No role can change or delete a blob the audit
// container's immutability policy protects.
resource hostStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [storageBlobDataOwner, storageQueueDataContributor]: {
    scope: storage
    name: guid(storage.id, archivalFunction.id, role)
    properties: {
      principalId: archivalFunction.identity.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

// The web app reads the api-keys and session-secret secrets (its Key Vault references), in this vault only.
resource apiKeyVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, api.id, keyVaultSecretsUser)
  properties: {
    principalId: api.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

// Cosmos DB data for both apps, on the billing database only (not the whole account).
var cosmosDatabaseScope = '${cosmos.id}/dbs/${databaseName}'

resource cosmosRoles 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = [
  for app in appKeys: {
    parent: cosmos
    name: guid(cosmosDatabaseScope, appIds[app], cosmosDataContributor)
    properties: {
      principalId: appPrincipalIds[app]
      roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributor}'
      scope: cosmosDatabaseScope
    }
    // The scope names the database: create it first.
    dependsOn: [database]
  }
]

output apiUrl string = 'https://${api.properties.defaultHostName}'
output functionAppName string = archivalFunction.name
output webAppName string = api.name
output storageAccount string = storage.name
output keyVaultName string = vault.name
output auditContainer string = audit.name
output cosmosEndpoint string = cosmos.properties.documentEndpoint

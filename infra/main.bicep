// billing-archive on Azure: Cosmos DB (live records, archive index, run history), a storage account
// with the archive container and its lifecycle policy, and one Linux App Service plan hosting the API
// (a web app) and the archival timer (a Function app). Both apps reach the stores with their
// system-assigned managed identities: no keys or connection strings anywhere.
//
// Untested here: neither the Bicep CLI nor Azure is reachable from our machines. Deploy with
//   az deployment group create -g <resource-group> -f infra/main.bicep -p namePrefix=<prefix>

@description('Prefix of every resource name: 3 to 11 lowercase letters and digits.')
@minLength(3)
@maxLength(11)
param namePrefix string

param location string = resourceGroup().location

@description('Archive container: the lifecycle policy\'s prefixes are moved to it.')
param archiveContainer string = 'billing-archive'

@description('Six-field cron (UTC) for the Function\'s archival runs.')
param archivalSchedule string = '0 0 0 * * *'

@description('App Service plan size for the API and the Function app.')
param planSku string = 'B1'

var databaseName = 'billingdb'
var containers = [
  { name: 'records', partitionKey: '/id' }
  { name: 'archive_index', partitionKey: '/id' }
  { name: 'archive_runs', partitionKey: '/id' }
  { name: 'legal_holds', partitionKey: '/record_id' }
]
// Built-in role definitions.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
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
      resource: {
        id: container.name
        partitionKey: { paths: [container.partitionKey], kind: 'Hash' }
      }
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

// The same rules `billing-archive lifecycle deploy` applies; see README "Blob lifecycle policy".
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: json(replace(loadTextContent('blob-lifecycle-policy.json'), '"billing-archive/', '"${archiveContainer}/'))
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
]

resource api 'Microsoft.Web/sites@2023-12-01' = {
  name: '${namePrefix}-api'
  location: location
  kind: 'app,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'NODE|20-lts'
      appCommandLine: 'node dist/server.js'
      healthCheckPath: '/ready'
      alwaysOn: true
      appSettings: concat(storeSettings, [
        { name: 'API_PORT', value: '8080' }
        { name: 'WEBSITES_PORT', value: '8080' }
        // The Function app schedules archival; the API's own scheduler stays off.
        { name: 'ARCHIVAL_SCHEDULE', value: '' }
      ])
    }
  }
}

resource archivalFunction 'Microsoft.Web/sites@2023-12-01' = {
  name: '${namePrefix}-archival'
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'NODE|20'
      // A timer on a dedicated plan fires only while the app is loaded.
      alwaysOn: true
      appSettings: concat(storeSettings, [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'node' }
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'ARCHIVAL_SCHEDULE', value: archivalSchedule }
      ])
    }
  }
}

// Blob data for both apps (archive blobs, lock leases); the Function host's own state too.
var blobRoles = [
  { principalId: api.identity.principalId, role: storageBlobDataContributor }
  { principalId: archivalFunction.identity.principalId, role: storageBlobDataOwner }
  { principalId: archivalFunction.identity.principalId, role: storageQueueDataContributor }
]

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in blobRoles: {
    scope: storage
    name: guid(storage.id, grant.principalId, grant.role)
    properties: {
      principalId: grant.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.role)
    }
  }
]

resource cosmosRoles 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = [
  for principalId in [api.identity.principalId, archivalFunction.identity.principalId]: {
    parent: cosmos
    name: guid(cosmos.id, principalId, cosmosDataContributor)
    properties: {
      principalId: principalId
      roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributor}'
      scope: cosmos.id
    }
  }
]

output apiUrl string = 'https://${api.properties.defaultHostName}'
output functionAppName string = archivalFunction.name
output webAppName string = api.name
output storageAccount string = storage.name
output cosmosEndpoint string = cosmos.properties.documentEndpoint

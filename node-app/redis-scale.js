'use strict'

// The connect-redis 9 store on node-redis 5's Cluster and Sentinel clients,
// built the way their READMEs show. REDIS_URL takes the same forms as the Go
// bridge's --redis-url, so one URL is shared by both sides:
//
//   redis+cluster://HOST:PORT?addr=HOST2:PORT2&addr=…          createCluster({rootNodes})
//   redis://SENTINEL:PORT?master_name=NAME&addr=SENTINEL2:PORT createSentinel({name, sentinelRootNodes})

const { RedisStore } = require('connect-redis')
const { createCluster, createSentinel } = require('redis')

// The addresses of a URL: its host, then every addr= parameter.
function addrsOf(u) {
  const addrs = [{ host: u.hostname, port: Number(u.port || 6379) }]
  for (const a of u.searchParams.getAll('addr')) {
    const i = a.lastIndexOf(':')
    addrs.push({ host: a.slice(0, i), port: Number(a.slice(i + 1)) })
  }
  return addrs
}

// Credentials in the URL apply to every node, as on the Go side.
function credentials(u) {
  const c = {}
  if (u.username) c.username = decodeURIComponent(u.username)
  if (u.password) c.password = decodeURIComponent(u.password)
  return c
}

function createClusterClient(url) {
  const u = new URL(url.replace(/^redis\+cluster:/, 'redis:'))
  return createCluster({
    rootNodes: addrsOf(u).map((a) => ({ url: `redis://${a.host}:${a.port}` })),
    defaults: credentials(u),
  })
}

function createSentinelClient(url) {
  const u = new URL(url)
  const name = u.searchParams.get('master_name')
  if (!name) throw new Error('REDIS_URL for connect-redis9-sentinel needs ?master_name=NAME')
  return createSentinel({
    name,
    sentinelRootNodes: addrsOf(u),
    nodeClientOptions: credentials(u),
  })
}

// Same shape as app.js's createRedisStore: { store, ready, close }.
function createScaleStore(config, storeOptions) {
  const client =
    config.storeFlavor === 'connect-redis9-cluster'
      ? createClusterClient(config.redisUrl)
      : createSentinelClient(config.redisUrl)
  client.on('error', (err) => console.error('redis client error:', err.message))
  const ready = client.connect().then(() => undefined)
  ready.catch((err) => console.error('redis connect failed:', err.message))
  const store = new RedisStore({ client, ...storeOptions })
  return {
    store,
    ready,
    close: async () => {
      await client.close().catch(() => client.destroy())
    },
  }
}

module.exports = { createScaleStore }

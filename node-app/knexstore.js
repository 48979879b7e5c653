'use strict'

// STORE_FLAVOR=connect-session-knex: connect-session-knex 5 on knex 3, set
// up the way its README shows, creating its table the way it does
// (createTable, the default). DATABASE_URL picks knex's client:
// postgres://… (pg), mysql://… (mysql2) or sqlite:///absolute/path
// (better-sqlite3). Same shape as app.js's createRedisStore:
// { store, ready, close }; `ready` resolves once the table exists.

const knexConstructor = require('knex')
const { ConnectSessionKnexStore } = require('connect-session-knex')

function knexConfig(databaseUrl) {
  const scheme = databaseUrl.slice(0, databaseUrl.indexOf(':'))
  switch (scheme) {
    case 'postgres':
    case 'postgresql':
      return { client: 'pg', connection: databaseUrl }
    case 'mysql':
      return { client: 'mysql2', connection: databaseUrl }
    case 'sqlite': {
      const filename = decodeURIComponent(new URL(databaseUrl).pathname)
      return { client: 'better-sqlite3', connection: { filename }, useNullAsDefault: true }
    }
  }
  throw new Error(`connect-session-knex: DATABASE_URL must be postgres://, mysql:// or sqlite:///path, not ${scheme}://`)
}

function createKnexStore(config) {
  const knex = knexConstructor(knexConfig(config.databaseUrl))
  const options = { knex }
  if (config.knexTable) options.tableName = config.knexTable
  const store = new ConnectSessionKnexStore(options)
  store.ready.catch((err) => console.error('connect-session-knex not ready:', err.message))
  return { store, ready: store.ready, close: () => knex.destroy() }
}

module.exports = { createKnexStore }

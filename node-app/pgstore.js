'use strict'

// STORE_FLAVOR=connect-pg-simple: connect-pg-simple 10 on a pg.Pool, set up
// the way its README shows, creating its table the way it does
// (createTableIfMissing). Same shape as app.js's createRedisStore:
// { store, ready, close }; `ready` resolves once a query went through, by
// which time the table exists.

const session = require('express-session')

function createPgStore(config) {
  const pg = require('pg')
  const PgStore = require('connect-pg-simple')(session)
  const pool = new pg.Pool({ connectionString: config.databaseUrl })
  pool.on('error', (err) => console.error('pg pool error:', err.message))

  const options = { pool, createTableIfMissing: true }
  if (config.pgTable) options.tableName = config.pgTable
  if (config.pgSchema) options.schemaName = config.pgSchema
  if (config.ttl != null) options.ttl = config.ttl
  if (config.disableTouch) options.disableTouch = true
  const store = new PgStore(options)

  // A get of a sid that does not exist: the first query makes
  // connect-pg-simple create the table.
  const ready = new Promise((resolve, reject) => {
    store.get('expressbridge-ready-check', (err) => (err ? reject(err) : resolve()))
  })
  ready.catch((err) => console.error('postgres not ready:', err.message))
  return { store, ready, close: () => store.close() }
}

module.exports = { createPgStore }

'use strict'

// STORE_FLAVOR=express-mysql-session: express-mysql-session 3 on a mysql2
// pool of DATABASE_URL (mysql://user:pass@host:port/db), set up the way its
// README shows for an existing pool, creating its table the way it does
// (createDatabaseTable, its default). Same shape as app.js's
// createRedisStore: { store, ready, close }; `ready` resolves once the
// table exists.

const session = require('express-session')

function createMySQLStore(config) {
  const mysql = require('mysql2/promise')
  const MySQLStore = require('express-mysql-session')(session)
  const pool = mysql.createPool(config.databaseUrl)
  pool.on('error', (err) => console.error('mysql pool error:', err.message))

  const options = {}
  if (config.mysqlTable) options.schema = { tableName: config.mysqlTable }
  if (config.ttl != null) options.expiration = config.ttl * 1000
  if (config.disableTouch) options.disableTouch = true
  const store = new MySQLStore(options, pool)

  const ready = store.onReady()
  ready.catch((err) => console.error('mysql not ready:', err.message))
  return { store, ready, close: () => store.close().then(() => pool.end()) }
}

module.exports = { createMySQLStore }

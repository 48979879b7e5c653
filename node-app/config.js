'use strict'

// Reads the environment into the plain config object that createApp() takes.
// The variable names are a contract with the Go test helpers: see README.md.

const fs = require('fs')

class ConfigError extends Error {}

function readSecretsFile(file) {
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read SESSION_SECRETS_FILE ${file}: ${err.message}`)
  }
  // One secret per line; the line ending (\n or \r\n) is not part of it.
  // Lines that are empty (or only whitespace) are ignored. Other whitespace
  // inside or around a secret is kept: it is part of the secret.
  return text
    .split('\n')
    .map((line) => line.replace(/[\r\n]+$/, ''))
    .filter((line) => line.trim() !== '')
}

function flag(value) {
  return value === '1'
}

function intVar(env, name) {
  const raw = env[name]
  if (!/^-?\d+$/.test(raw)) {
    throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(raw)}`)
  }
  return Number(raw)
}

function fromEnv(env = process.env) {
  let secrets
  if (env.SESSION_SECRETS_FILE) {
    secrets = readSecretsFile(env.SESSION_SECRETS_FILE)
    if (secrets.length === 0) {
      throw new ConfigError(`SESSION_SECRETS_FILE ${env.SESSION_SECRETS_FILE} holds no secret (one per line)`)
    }
  } else if (env.SESSION_SECRET) {
    secrets = [env.SESSION_SECRET]
  } else {
    throw new ConfigError('no session secret: set SESSION_SECRET, or SESSION_SECRETS_FILE (one secret per line, the first signs)')
  }

  let maxAgeMs = 3600000
  if (env.SESSION_MAX_AGE_MS === 'session') {
    maxAgeMs = null
  } else if (env.SESSION_MAX_AGE_MS !== undefined && env.SESSION_MAX_AGE_MS !== '') {
    maxAgeMs = intVar(env, 'SESSION_MAX_AGE_MS')
  }

  const expressFlavor = env.EXPRESS_FLAVOR || '4'
  if (expressFlavor !== '4' && expressFlavor !== '5') {
    throw new ConfigError(`EXPRESS_FLAVOR must be 4 or 5, got ${JSON.stringify(expressFlavor)}`)
  }
  const storeFlavor = env.STORE_FLAVOR || 'connect-redis9'
  const storeFlavors = ['connect-redis9', 'connect-redis8-ioredis', 'connect-redis9-cluster', 'connect-redis9-sentinel', 'connect-pg-simple', 'express-mysql-session', 'connect-session-knex', 'cookie-session']
  if (!storeFlavors.includes(storeFlavor)) {
    throw new ConfigError(`STORE_FLAVOR must be one of ${storeFlavors.join(', ')}, got ${JSON.stringify(storeFlavor)}`)
  }
  if (storeFlavor === 'connect-pg-simple' && !env.DATABASE_URL) {
    throw new ConfigError('STORE_FLAVOR=connect-pg-simple needs DATABASE_URL (postgres://user@host:port/db)')
  }
  if (storeFlavor === 'express-mysql-session' && !env.DATABASE_URL) {
    throw new ConfigError('STORE_FLAVOR=express-mysql-session needs DATABASE_URL (mysql://user:pass@host:port/db)')
  }

  if (storeFlavor === 'connect-session-knex' && !env.DATABASE_URL) {
    throw new ConfigError('STORE_FLAVOR=connect-session-knex needs DATABASE_URL (postgres://…, mysql://… or sqlite:///path)')
  }

  const keygripAlgorithm = env.KEYGRIP_ALGORITHM || null
  if (keygripAlgorithm !== null && !['sha1', 'sha256', 'sha512'].includes(keygripAlgorithm)) {
    throw new ConfigError(`KEYGRIP_ALGORITHM must be sha1, sha256 or sha512, got ${JSON.stringify(keygripAlgorithm)}`)
  }

  const authFlavor = env.AUTH_FLAVOR || 'flag'
  if (authFlavor !== 'flag' && authFlavor !== 'passport') {
    throw new ConfigError(`AUTH_FLAVOR must be flag or passport, got ${JSON.stringify(authFlavor)}`)
  }

  let port = 3000
  if (env.PORT !== undefined && env.PORT !== '') port = intVar(env, 'PORT')

  return {
    host: env.HOST || 'localhost',
    port,
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    secrets,
    bridgeUrl: env.BRIDGE_URL || null,
    cookieName: env.SESSION_COOKIE_NAME || null,
    prefix: env.SESSION_PREFIX || 'sess:',
    disableTTL: flag(env.SESSION_DISABLE_TTL),
    disableTouch: flag(env.SESSION_DISABLE_TOUCH),
    ttl: env.SESSION_TTL !== undefined && env.SESSION_TTL !== '' ? intVar(env, 'SESSION_TTL') : null,
    maxAgeMs,
    expressFlavor,
    storeFlavor,
    authFlavor,
    keygripAlgorithm,
    testRoutes: flag(env.EXPRESSBRIDGE_TEST_ROUTES),
    databaseUrl: env.DATABASE_URL || null,
    pgTable: env.SESSION_PG_TABLE || null,
    pgSchema: env.SESSION_PG_SCHEMA || null,
    mysqlTable: env.SESSION_MYSQL_TABLE || null,
    knexTable: env.SESSION_KNEX_TABLE || null,
  }
}

module.exports = { fromEnv, ConfigError }

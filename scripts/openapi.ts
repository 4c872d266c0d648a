/** `npm run openapi`: writes the OpenAPI document generated from the route schemas to openapi.json. */
import { writeFileSync } from 'node:fs'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import app from '../app.js'

const env = { DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' }
const server = Fastify({ logger: false })
await server.register(fp(app), { env })
await server.ready()
writeFileSync('openapi.json', JSON.stringify(server.swagger(), null, 2) + '\n')
await server.close()
console.log('wrote openapi.json')

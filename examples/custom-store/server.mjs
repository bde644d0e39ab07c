// Your own incident store. hashgate talks to incidents only through the IncidentStore interface
// (docs/incident-store.md), so a host can wrap a store it ships — to add tracing, metrics or a
// copy into its own case system — or write one for another database.
//
// This example wraps the SQLite store: every method is delegated unchanged, and each new incident
// is announced after it is committed. `npm run build`, then `node examples/custom-store/server.mjs`.
//
// Writing a store from scratch: implement every method below and keep the guarantees the
// interface documents — each change in one transaction with its audit record (and outbox event),
// durable before the promise resolves, one hash-chained audit log in one total order, and every
// failure a HashgateError with the codes in docs/incident-store.md. The SQLite and PostgreSQL
// stores pass one contract test suite (test/unit/incidents/store-contract.ts); run yours through it.
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createHashgate, createSqliteStore } from 'hashgate';
import multer from 'multer';

/**
 * @typedef {import('hashgate').IncidentStore} IncidentStore
 * @typedef {import('hashgate').Incident} Incident
 */

/**
 * Delegates everything to `inner` and calls `onIncident` after an incident is committed. A
 * failing callback never fails the upload path: the incident is already recorded. (For delivery
 * that must not be lost, use the outbox and webhooks: they are written in the same transaction.)
 * @param {IncidentStore} inner
 * @param {(incident: Incident) => void | Promise<void>} onIncident
 * @returns {IncidentStore}
 */
function withIncidentHook(inner, onIncident) {
  return {
    kind: `${inner.kind}+hook`,
    async createIncident(input) {
      const incident = await inner.createIncident(input);
      try {
        await onIncident(incident);
      } catch (err) {
        console.error('incident hook failed:', err instanceof Error ? err.message : err);
      }
      return incident;
    },
    getIncident: (id) => inner.getIncident(id),
    viewIncident: (id, action) => inner.viewIncident(id, action),
    listIncidents: (query) => inner.listIncidents(query),
    transition: (id, request) => inner.transition(id, request),
    setLegalHold: (id, request) => inner.setLegalHold(id, request),
    liftLegalHold: (id, request) => inner.liftLegalHold(id, request),
    attachEvidence: (id, evidence, action) => inner.attachEvidence(id, evidence, action),
    recordEvidenceAccess: (id, request) => inner.recordEvidenceAccess(id, request),
    listAllowlist: (query) => inner.listAllowlist(query),
    findAllowlisted: (hashes) => inner.findAllowlisted(hashes),
    approveAllowlistEntry: (id, action) => inner.approveAllowlistEntry(id, action),
    revokeAllowlistEntry: (id, action) => inner.revokeAllowlistEntry(id, action),
    appendAudit: (input) => inner.appendAudit(input),
    readAudit: (options) => inner.readAudit(options),
    auditHead: () => inner.auditHead(),
    verifyAuditChain: () => inner.verifyAuditChain(),
    claimOutbox: (request) => inner.claimOutbox(request),
    settleOutbox: (eventId, owner, settlement) => inner.settleOutbox(eventId, owner, settlement),
    listOutbox: (query) => inner.listOutbox(query),
    listEvidenceDue: (request) => inner.listEvidenceDue(request),
    markEvidenceDeleted: (id, action) => inner.markEvidenceDeleted(id, action),
    addToLedger: (records) => inner.addToLedger(records),
    findLedgerExact: (type, hexes) => inner.findLedgerExact(type, hexes),
    scanLedgerPerceptual: (type, afterSeq, limit) => inner.scanLedgerPerceptual(type, afterSeq, limit),
    getLedgerRecords: (seqs) => inner.getLedgerRecords(seqs),
    close: () => inner.close(),
  };
}

const sqlite = await createSqliteStore({ path: 'var/custom-store/incidents.sqlite' });
const store = withIncidentHook(sqlite, (incident) => {
  // Say only what a pager needs: never hashes, file names or the uploader here.
  console.log(`new incident ${incident.id}: action ${incident.action}, review state ${incident.state}`);
});

const gate = createHashgate({
  lists: [
    { name: 'known', file: fileURLToPath(new URL('../minimal-memory/known-hashes.txt', import.meta.url)) },
  ],
  store,
  dataDir: 'var/custom-store',
});

const app = express();
app.post('/upload', multer().single('file'), gate.middleware(), (req, res) => {
  res.json({ outcome: req.hashgate?.outcome });
});
app.get('/ready', gate.readiness());

await gate.ready();
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`listening on http://localhost:${port} (store: ${store.kind})`);
});

const stop = async () => {
  server.close();
  await gate.close();
  await store.close(); // hashgate leaves a store it was given open
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

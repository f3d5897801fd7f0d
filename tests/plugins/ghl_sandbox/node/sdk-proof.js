#!/usr/bin/env node
'use strict';
/*
 * sdk-proof.js - the official HighLevel Node SDK (@gohighlevel/api-client) against ferry's
 * GHL sandbox: create/read/update/delete over contacts, tasks, notes and tags, each result
 * asserted. The sandbox behaves like GHL for a client that no one here wrote.
 *
 * Starts nothing itself. Environment:
 *   GHL_SANDBOX_URL    the sandbox's base_url (must be http://127.0.0.1:PORT or localhost)
 *   GHL_SANDBOX_TOKEN  a token with contacts.readonly + contacts.write
 *   GHL_SANDBOX_LOCATION the sandbox's location_id
 * Exit code 0 = every check passed; 1 = a check failed; 2 = bad setup or hard timeout.
 */
const assert = require('assert');
const { HighLevel } = require('@gohighlevel/api-client');

const HARD_TIMEOUT_MS = 60000;
const base = process.env.GHL_SANDBOX_URL || '';
const token = process.env.GHL_SANDBOX_TOKEN || '';
const locationId = process.env.GHL_SANDBOX_LOCATION || '';

function isLoopback(url) {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch (e) {
    return false;
  }
}

if (!isLoopback(base) || !token || !locationId) {
  console.error('sdk-proof: error[setup]: set GHL_SANDBOX_URL (a loopback http URL), ' +
    'GHL_SANDBOX_TOKEN and GHL_SANDBOX_LOCATION; refusing target "' + base + '"');
  process.exit(2);
}
const hardStop = setTimeout(() => {
  console.error('sdk-proof: error[timeout]: hard timeout reached');
  process.exit(2);
}, HARD_TIMEOUT_MS);

let passed = 0;
function check(name, fn) {
  fn();
  passed++;
  console.log('ok - ' + name);
}

async function main() {
  // The SDK's default apiVersion (2023-02-21) is kept on purpose: the sandbox accepts it.
  const ghl = new HighLevel({ privateIntegrationToken: token, logLevel: 'none' });
  ghl.getHttpClient().defaults.baseURL = base;
  // Refuse anything not aimed at the sandbox (runs after axios merged the config).
  ghl.addRequestInterceptor({
    onFulfilled: (config) => {
      const target = /^https?:\/\//.test(config.url || '') ? config.url : (config.baseURL || '');
      if (!String(target).startsWith(base) || !isLoopback(String(target))) {
        throw new Error('refusing non-loopback request to ' + target);
      }
      return config;
    },
  });
  const c = ghl.contacts;
  const email = 'sdk-proof-' + Date.now() + '@example.com';

  // Contacts
  const created = await c.createContact({ locationId, firstName: 'Grace', lastName: 'Hopper', email,
    tags: ['SDK'] });
  check('createContact returns {contact} with an id', () => {
    assert.ok(created.contact && created.contact.id);
    assert.strictEqual(created.contact.email, email);
    assert.deepStrictEqual(created.contact.tags, ['sdk']);
  });
  const contactId = created.contact.id;
  const got = await c.getContact({ contactId });
  check('getContact reads it back', () => assert.strictEqual(got.contact.name, 'Grace Hopper'));
  const updated = await c.updateContact({ contactId }, { lastName: 'Murray', city: 'Arlington' });
  check('updateContact answers {succeded, contact}', () => {
    assert.strictEqual(updated.succeded, true);
    assert.strictEqual(updated.contact.name, 'Grace Murray');
    assert.strictEqual(updated.contact.city, 'Arlington');
  });
  const upserted = await c.upsertContact({ locationId, email, phone: '+15550100' });
  check('upsertContact matches by email', () => {
    assert.strictEqual(upserted.new, false);
    assert.strictEqual(upserted.contact.id, contactId);
  });
  const found = await c.searchContactsAdvanced({ locationId, pageLimit: 10,
    filters: [{ field: 'email', operator: 'eq', value: email }] });
  check('searchContactsAdvanced finds it', () => {
    assert.strictEqual(found.total, 1);
    assert.strictEqual(found.contacts[0].id, contactId);
  });

  // Tasks
  const task = await c.createTask({ contactId }, { title: 'Call back', body: 'about COBOL',
    dueDate: '2030-01-01T10:00:00Z', completed: false });
  check('createTask returns {task}', () => {
    assert.ok(task.task.id);
    assert.strictEqual(task.task.contactId, contactId);
  });
  const taskId = task.task.id;
  const tasks = await c.getAllTasks({ contactId });
  check('getAllTasks lists it', () => assert.deepStrictEqual(tasks.tasks.map((t) => t.id), [taskId]));
  const taskUpdated = await c.updateTask({ contactId, taskId }, { title: 'Call back soon' });
  check('updateTask changes the title', () => assert.strictEqual(taskUpdated.task.title, 'Call back soon'));
  const completed = await c.updateTaskCompleted({ contactId, taskId }, { completed: true });
  check('updateTaskCompleted completes it', () => assert.strictEqual(completed.task.completed, true));
  const oneTask = await c.getTask({ contactId, taskId });
  check('getTask reads the completed task', () => assert.strictEqual(oneTask.task.completed, true));
  const taskDeleted = await c.deleteTask({ contactId, taskId });
  check('deleteTask answers {succeded: true}', () => assert.strictEqual(taskDeleted.succeded, true));

  // Notes
  const note = await c.createNote({ contactId }, { body: 'Invented the compiler' });
  check('createNote returns {note}', () => assert.strictEqual(note.note.body, 'Invented the compiler'));
  const noteId = note.note.id;
  const noteUpdated = await c.updateNote({ contactId, id: noteId }, { body: 'Invented the first compiler' });
  check('updateNote changes the body', () => assert.strictEqual(noteUpdated.note.body,
    'Invented the first compiler'));
  const notes = await c.getAllNotes({ contactId });
  check('getAllNotes lists it', () => assert.deepStrictEqual(notes.notes.map((n) => n.id), [noteId]));
  const oneNote = await c.getNote({ contactId, id: noteId });
  check('getNote reads it', () => assert.strictEqual(oneNote.note.id, noteId));
  const noteDeleted = await c.deleteNote({ contactId, id: noteId });
  check('deleteNote answers {succeded: true}', () => assert.strictEqual(noteDeleted.succeded, true));

  // Tags
  const tagged = await c.addTags({ contactId }, { tags: ['navy', 'vip'] });
  check('addTags returns every tag', () => assert.deepStrictEqual(tagged.tags, ['sdk', 'navy', 'vip']));
  const untagged = await c.removeTags({ contactId }, { tags: ['sdk'] });
  check('removeTags returns the rest', () => assert.deepStrictEqual(untagged.tags, ['navy', 'vip']));

  // Errors surface as the SDK's errors with GHL's status codes.
  let unknownField = null;
  try {
    await c.createContact({ locationId, email: 'x-' + email, additionalEmails: [] });
  } catch (e) {
    unknownField = e;
  }
  check('an unknown field is refused with 422', () => {
    assert.ok(unknownField);
    assert.strictEqual(unknownField.statusCode || (unknownField.response && unknownField.response.status), 422);
  });

  // Delete, then the contact is gone.
  const deleted = await c.deleteContact({ contactId });
  check('deleteContact answers {succeded: true}', () => assert.strictEqual(deleted.succeded, true));
  let gone = null;
  try {
    await c.getContact({ contactId });
  } catch (e) {
    gone = e;
  }
  check('getContact after delete fails with 404', () => {
    assert.ok(gone);
    assert.strictEqual(gone.statusCode || (gone.response && gone.response.status), 404);
  });
}

main().then(() => {
  clearTimeout(hardStop);
  console.log('sdk-proof: ' + passed + ' checks passed (@gohighlevel/api-client ' +
    require('@gohighlevel/api-client/package.json').version + ')');
  process.exit(0);
}).catch((e) => {
  clearTimeout(hardStop);
  console.error('sdk-proof: FAILED after ' + passed + ' checks: ' + (e && e.stack || e));
  if (e && e.response) {
    console.error('response: ' + e.response.status + ' ' + JSON.stringify(e.response.data));
  }
  process.exit(1);
});

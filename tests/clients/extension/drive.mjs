// Plays the "Assistant for Argo CD" UI extension with the real npm llama-stack-client 0.3.0 (the SDK line the
// extension is built on), making the same client calls with the same arguments as its two llama-stack providers:
//   provider "agents"    -> the extension's "Llama-Stack" provider (Agents API; its default)
//   provider "responses" -> the extension's "Llama-Stack-V2" provider (Responses API)
// The Lightspeed provider uses plain fetch; tests/support/extension_client.py sends that request itself.
//
// Job (JSON on stdin, or a file path / inline JSON as argv[2]):
//   baseURL        "http://127.0.0.1:<proxy port>/extensions/assistant"   (required)
//   application    value of Argocd-Application-Name, "<namespace>:<app>"   (required)
//   project        value of Argocd-Project-Name                            (required)
//   provider       "agents" | "responses"                                  (default "responses")
//   prompts        [string | {prompt, attachments?, manifest?, events?, logs?}]  one query per entry
//   attachments    [{content, mimeType}]  sent with every query, in order; or use the shortcuts
//   manifest, events, logs   JSON strings -> attachments MANIFEST, EVENTS, LOG (application/json), in that order
//   model          settings.model (used even when not listed, as the extension does)
//   firstPreviousNull  true: first Responses turn sends "previous_response_id": null (extension main),
//                      false/absent: the key is omitted (extension v0.3.0)
//   resetBefore    [turn index...]: re-create the provider before these turns (a tab switch in the UI)
//   responsesPath  "/v1/responses": post there via client.post() (a later extension build does this);
//                  default: client.responses.create() -> POST /v1/openai/v1/responses
//   cookie         Cookie the browser would add (e.g. "argocd.token=..."), default none
//   origin         page origin the browser puts in Origin on POSTs (default: the origin of baseURL)
//   rawChunks      true: also emit every parsed stream chunk as {kind: "chunk"}
//   stopOnError    default true: stop after the first failed turn (false: keep going, like a user retrying)
//
// Output: one JSON object per line on stdout, `t` = milliseconds since the driver started:
//   {"kind":"model","model":...,"t"}                       the model the extension picked
//   {"turn":i,"kind":"delta","text":<delta>,"t"}           every piece of text the chat would append
//   {"turn":i,"kind":"chunk","chunk":{...},"t"}            (rawChunks only)
//   {"turn":i,"kind":"done","conversationID":...,"data":...,"text":<full>,"t"}
//   {"turn":i,"kind":"error","message":...,"display":"Unexpected Error: ...","text":<partial>,"t"}
// Exit status: 0 all turns succeeded, 1 a turn failed, 2 the job itself was unusable, 3 the driver broke.
//
// Browser fidelity. The bundle runs llama-stack-client on the browser's fetch. Here the client is put on Node's
// own fetch (the 'llama-stack-client/shims/web' runtime, what the webpack build resolves to, instead of the
// node-fetch default), wrapped to apply what a browser does to a script's request headers:
//   * forbidden request headers set by the script are dropped silently: the extension's `Content-Length: -1`
//     and `Origin`, and the client's own computed `content-length` (the browser computes the real one).
//     Undici does not drop `Content-Length: -1`: it sends it and the request fails, which no browser does;
//     argocd-server (Go net/http) would answer 400 to a negative Content-Length, so it never reaches it.
//   * a POST carries `Origin: <page origin>`; the session cookie is added when `cookie` is given;
//     User-Agent is the browser's, not the SDK's.
// Left as the SDK makes them: X-Stainless-* (they say Node here, a browser name in Chrome), retries (2, on
// 408/409/429/5xx/connection errors) and the 60 s timeout until response headers.

const job = await readJob();

const INSTRUCTIONS = [
  'You help people operate applications deployed with Argo CD on Kubernetes.',
  'The message may carry the live manifest, recent events and container logs of the resource the user is',
  'looking at, as JSON attachments. Ground your answer in them, say what is wrong and how to fix it, and keep',
  'it short. Answer in Markdown. If a question has nothing to do with Argo CD or Kubernetes, decline politely.',
].join(' ');
const AGENT_NAME = 'Assistant for Argo CD';
const UNAVAILABLE_MODEL = 'unavailable';
const NO_MODEL = 'No models are configured or available in LLamaStack';
const MIME_JSON = 'application/json';

const started = performance.now();
const emit = (event) => {
  process.stdout.write(JSON.stringify({ ...event, t: Math.round((performance.now() - started) * 10) / 10 }) + '\n');
};

// ---- the browser's fetch ---------------------------------------------------------------------------------
const FORBIDDEN = new Set([
  'accept-charset', 'accept-encoding', 'access-control-request-headers', 'access-control-request-method',
  'connection', 'content-length', 'cookie', 'cookie2', 'date', 'dnt', 'expect', 'host', 'keep-alive', 'origin',
  'referer', 'set-cookie', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'via', 'user-agent',
]);
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const pageOrigin = job.origin ?? new URL(job.baseURL).origin;
const nodeFetch = globalThis.fetch;
globalThis.fetch = (input, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  for (const name of [...headers.keys()]) {
    if (FORBIDDEN.has(name) || name.startsWith('proxy-') || name.startsWith('sec-')) headers.delete(name);
  }
  const method = (init.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') headers.set('origin', pageOrigin);
  if (job.cookie) headers.set('cookie', job.cookie);
  headers.set('user-agent', BROWSER_UA);
  return nodeFetch(input, { ...init, headers });
};
await import('llama-stack-client/shims/web');
const { default: LlamaStackClient } = await import('llama-stack-client');

// ---- what the extension builds per query -----------------------------------------------------------------
function mappedHeaders() {
  // getMappedHeaders(application, true): the browser drops Origin and Content-Length (see above)
  return {
    'Content-Type': MIME_JSON,
    Accept: MIME_JSON,
    Origin: pageOrigin,
    'Argocd-Application-Name': job.application,
    'Argocd-Project-Name': job.project,
    'Content-Length': '-1',
  };
}

function newClient() {
  const options = { baseURL: job.baseURL, defaultHeaders: mappedHeaders() };
  // test-only knobs, off unless a job asks (the extension never sets them)
  if (job.maxRetries !== undefined) options.maxRetries = job.maxRetries;
  if (job.timeoutMs !== undefined) options.timeout = job.timeoutMs;
  return new LlamaStackClient(options);
}

function attachmentsFrom(source) {
  if (Array.isArray(source.attachments)) {
    return source.attachments.map((a) => ({ content: a.content, mimeType: a.mimeType ?? MIME_JSON }));
  }
  const list = [];
  for (const key of ['manifest', 'events', 'logs']) {
    if (typeof source[key] === 'string') list.push({ content: source[key], mimeType: MIME_JSON });
  }
  return list;
}

const shared = attachmentsFrom(job);
function queryOf(entry) {
  if (typeof entry === 'string') return { prompt: entry, attachments: shared };
  const own = 'attachments' in entry || 'manifest' in entry || 'events' in entry || 'logs' in entry;
  return { prompt: entry.prompt, attachments: own ? attachmentsFrom(entry) : shared };
}

async function pickModel(client) {
  const available = (await client.models.list())
    .filter((m) => m.model_type === 'llm' && !m.identifier.includes('guard') && !m.identifier.includes('405'))
    .map((m) => m.identifier);
  if (job.model !== undefined && job.model !== null) return job.model;
  return available.length === 0 ? UNAVAILABLE_MODEL : available[0];
}

// ---- the two llama-stack providers -----------------------------------------------------------------------
class AgentsProvider {
  async query(context, prompt, turn, stream) {
    let agentID;
    let sessionID;
    if (this.client === undefined || context.conversationID == undefined) {
      this.client = newClient();
      if (this.model === undefined || this.model === UNAVAILABLE_MODEL) {
        this.model = await pickModel(this.client);
        if (this.model === UNAVAILABLE_MODEL) return { success: false, error: { status: 404, message: NO_MODEL } };
        emit({ kind: 'model', model: this.model });
      }
      const agent = await this.client.agents.create({
        agent_config: { instructions: INSTRUCTIONS, model: this.model, name: AGENT_NAME },
      });
      agentID = agent.agent_id;
      const session = await this.client.agents.session.create(agentID, { session_name: 'assistant' });
      sessionID = session.session_id;
    } else {
      sessionID = context.conversationID;
      agentID = context.data;
    }
    const chunks = await this.client.agents.turn.create(agentID, sessionID, {
      stream: true,
      documents: context.attachments.map((a) => ({
        content: a.content,
        mime_type: a.mimeType === MIME_JSON ? 'text/json' : a.mimeType,
      })),
      messages: [{ role: 'user', content: prompt }],
    });
    for await (const chunk of chunks) {
      if (job.rawChunks) emit({ turn, kind: 'chunk', chunk });
      if (chunk.event === undefined || chunk.event === null) {
        return { success: false, error: { status: 500, message: chunk.error?.message } };
      }
      const payload = chunk.event.payload;
      if (payload.event_type === 'step_progress' && payload.delta.type === 'text') stream(payload.delta.text);
    }
    return { success: true, conversationID: sessionID, data: agentID };
  }
}

class ResponsesProvider {
  async query(context, prompt, turn, stream) {
    if (this.client === undefined || context.conversationID == undefined) {
      this.client = newClient();
      if (this.model === undefined || this.model === UNAVAILABLE_MODEL) {
        this.model = await pickModel(this.client);
        if (this.model === UNAVAILABLE_MODEL) return { success: false, error: { status: 404, message: NO_MODEL } };
        emit({ kind: 'model', model: this.model });
      }
    }
    let input = prompt;
    for (const a of context.attachments) input += '\n\n[Attachment:' + a.mimeType + ']\n' + a.content;
    const params = { model: this.model, instructions: INSTRUCTIONS, stream: true, input, tools: [] };
    params.previous_response_id = context.conversationID; // undefined is dropped by JSON.stringify; null is sent
    const chunks = job.responsesPath && job.responsesPath !== '/v1/openai/v1/responses'
      ? await this.client.post(job.responsesPath, { body: params, stream: true })
      : await this.client.responses.create(params);
    let responseID = '';
    for await (const chunk of chunks) {
      if (job.rawChunks) emit({ turn, kind: 'chunk', chunk });
      if ('delta' in chunk) stream(chunk.delta);
      if ('type' in chunk && chunk.type === 'response.completed') responseID = chunk.response.id;
      if ('error' in chunk) return { success: false, error: { status: 500, message: chunk.error.message } };
    }
    return { success: true, conversationID: responseID };
  }
}

// ---- the chat loop (resourceExtension: one provider instance, state in sessionStorage) -----------------
async function chat() {
  const Provider = job.provider === 'agents' ? AgentsProvider : ResponsesProvider;
  const storage = { conversationID: job.firstPreviousNull ? null : undefined, data: undefined };
  const resetBefore = new Set(job.resetBefore ?? []);
  let provider = new Provider();
  let failed = false;

  for (const [turn, entry] of job.prompts.entries()) {
    if (resetBefore.has(turn)) provider = new Provider();
    const { prompt, attachments } = queryOf(entry);
    const context = { conversationID: storage.conversationID, data: storage.data, attachments };
    let text = '';
    const stream = (piece) => {
      text += piece; // the extension appends and re-renders the whole text; we report the piece
      emit({ turn, kind: 'delta', text: piece });
    };
    let result;
    try {
      result = await provider.query(context, prompt, turn, stream);
    } catch (error) {
      result = { success: false, error: { message: error?.message ?? String(error) } };
    }
    if (result.success) {
      storage.conversationID = result.conversationID;
      if (result.data !== undefined) storage.data = result.data;
      emit({ turn, kind: 'done', conversationID: result.conversationID, data: result.data ?? null, text });
    } else {
      failed = true;
      const message = result.error?.message;
      emit({ turn, kind: 'error', message, display: 'Unexpected Error: ' + message, text });
      if (job.stopOnError !== false) break;
    }
  }
  return failed ? 1 : 0;
}

try {
  process.exitCode = await chat();
} catch (error) {
  // a bug in this driver, not an answer of the back-end
  process.stdout.write(JSON.stringify({ kind: 'crash', message: String(error?.stack ?? error), t: 0 }) + '\n');
  process.exitCode = 3;
}

async function readJob() {
  let raw;
  const arg = process.argv[2];
  if (arg !== undefined && arg !== '-') {
    const { readFile } = await import('node:fs/promises');
    raw = arg.trimStart().startsWith('{') ? arg : await readFile(arg, 'utf8');
  } else {
    raw = await new Promise((resolve, reject) => {
      let data = '';
      process.stdin.setEncoding('utf8');
      process.stdin.on('data', (chunk) => (data += chunk));
      process.stdin.on('end', () => resolve(data));
      process.stdin.on('error', reject);
    });
  }
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    return fail(`the job is not JSON: ${error.message}`);
  }
  for (const key of ['baseURL', 'application', 'project']) {
    if (typeof parsed[key] !== 'string') return fail(`the job needs "${key}" (a string)`);
  }
  if (!Array.isArray(parsed.prompts) || parsed.prompts.length === 0) return fail('the job needs "prompts" (a list)');
  if (parsed.provider !== undefined && !['agents', 'responses'].includes(parsed.provider)) {
    return fail(`unknown provider ${JSON.stringify(parsed.provider)} (agents | responses)`);
  }
  return parsed;
}

function fail(message) {
  process.stdout.write(JSON.stringify({ kind: 'error', message, display: message, t: 0 }) + '\n');
  process.exit(2);
}

// Plays the Assistant for Argo CD UI extension with the real llama-stack-client 0.3.0, the client line it ships.
// Reads a job (JSON) on stdin, prints one JSON line per event: {turn, kind: "delta"|"done"|"error", ...}.
// The browser drops the extension's `Content-Length: -1` and `Origin` headers (forbidden request headers), so
// they are not sent here either.
import LlamaStackClient from 'llama-stack-client';

const INSTRUCTIONS = 'You are an Argo CD assistant in a chat tab of the Argo CD UI. Answer about the resource shown.';
const job = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (chunk) => (data += chunk));
  process.stdin.on('end', () => resolve(data));
}));
const started = Date.now();
const emit = (event) => process.stdout.write(JSON.stringify({ ...event, t: Date.now() - started }) + '\n');

const client = new LlamaStackClient({
  baseURL: job.baseURL,
  defaultHeaders: {
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'Argocd-Application-Name': job.application,
    'Argocd-Project-Name': job.project,
  },
});

async function pickModel() {
  const models = await client.models.list();
  const llms = models.filter((m) => m.model_type === 'llm' && !m.identifier.includes('guard') && !m.identifier.includes('405'));
  return job.model ?? (llms.length > 0 ? llms[0].identifier : 'unavailable');
}

async function agentsTurns(model) {
  const agent = await client.agents.create({ agent_config: { instructions: INSTRUCTIONS, model, name: 'Assistant for Argo CD' } });
  const session = await client.agents.session.create(agent.agent_id, { session_name: 'assistant' });
  for (const [turn, prompt] of job.prompts.entries()) {
    const stream = await client.agents.turn.create(agent.agent_id, session.session_id, {
      stream: true,
      documents: job.attachments.map((a) => ({ content: a.content, mime_type: 'text/json' })),
      messages: [{ role: 'user', content: prompt }],
    });
    let text = '';
    for await (const chunk of stream) {
      if (chunk.event === undefined) {
        emit({ turn, kind: 'error', message: chunk.error?.message });
        break;
      }
      const payload = chunk.event.payload;
      if (payload.event_type === 'step_progress' && payload.delta.type === 'text') {
        text += payload.delta.text;
        emit({ turn, kind: 'delta', text: payload.delta.text });
      }
    }
    emit({ turn, kind: 'done', conversationID: session.session_id, text });
  }
}

async function responsesTurns(model) {
  let previous = job.firstPreviousNull ? null : undefined;
  for (const [turn, prompt] of job.prompts.entries()) {
    let input = prompt;
    for (const a of job.attachments) input += '\n\n[Attachment:' + a.mimeType + ']\n' + a.content;
    const stream = await client.responses.create({
      model, instructions: INSTRUCTIONS, stream: true, input, tools: [], previous_response_id: previous,
    });
    let text = '';
    let responseID = '';
    for await (const chunk of stream) {
      if ('delta' in chunk) {
        text += chunk.delta;
        emit({ turn, kind: 'delta', text: chunk.delta });
      }
      if (chunk.type === 'response.completed') responseID = chunk.response.id;
      if ('error' in chunk && chunk.error) emit({ turn, kind: 'error', message: chunk.error.message });
    }
    previous = responseID;
    emit({ turn, kind: 'done', conversationID: responseID, text });
  }
}

try {
  const model = await pickModel();
  emit({ kind: 'model', model });
  await (job.provider === 'agents' ? agentsTurns(model) : responsesTurns(model));
} catch (error) {
  emit({ kind: 'error', message: `Unexpected Error: ${error.message}` });
  process.exitCode = 1;
}

// Settings of the Assistant for Argo CD UI extension. argocd-server serves this file with the extension bundle;
// it must stay in its own folder (resources/extensions-assistant-settings/), apart from the extension's.
// The back-end is llama-stack-argocd, reached through the Argo CD proxy extension named "assistant".
// Never put credentials here: every Argo CD user's browser downloads this file.
var argocdAssistantSettings = {
  // "Llama-Stack-V2" talks to the Responses API (/v1/openai/v1/responses, extension v0.3.0 and later).
  // llama-stack-argocd also serves "Llama-Stack" (the legacy Agents API) and "Lightspeed" (/v1/streaming_query).
  provider: "Llama-Stack-V2",
  // Left unset, the extension uses the first LLM the back-end lists at /v1/models: "embedded/smollm2" when no other
  // model is configured, else the configured provider's models (the embedded one then stays off). To pin one:
  // model: "vllm/<served-model-name>",
  // At most this many log lines can be attached to a question.
  maximumLogLines: 250,
};

// The official openai-node SDK against one OpenAI-compatible endpoint: prints what it saw as
// JSON, so the Python test can compare the fake alone with the gateway in front of it.
// Usage: node v1.mjs BASE_URL API_KEY MODEL
import OpenAI from "openai";

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
const ask = [{ role: "user", content: "Paris" }];
const out = {};

const plain = await client.chat.completions.create({ model, messages: ask });
out.plain = [plain.choices[0].message.content, plain.choices[0].finish_reason];

const stream = await client.chat.completions.create({
  model,
  messages: ask,
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let usage = 0;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content ?? "";
  usage = chunk.usage?.total_tokens ?? usage;
}
out.stream = [text, usage > 0];

const calls = [];
const runner = client.chat.completions.runTools({
  model,
  messages: ask,
  tools: [
    {
      type: "function",
      function: {
        name: "get_weather",
        description: "Weather in a city",
        parameters: {
          type: "object",
          properties: { city: { type: "string" } },
          required: ["city"],
        },
        parse: JSON.parse,
        function: (args) => {
          calls.push(args);
          return `sunny in ${args.city}`;
        },
      },
    },
  ],
});
out.runTools = [calls, await runner.finalContent()];

try {
  await client.chat.completions.create({ model: "no-such-model", messages: ask });
  out.unknownModel = "answered";
} catch (error) {
  out.unknownModel = [error.constructor.name, error.status, error.code];
}

console.log(JSON.stringify(out));

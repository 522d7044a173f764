"""The interfaces other tools connect to: an MCP server (`mcp_server`), a REST API (`rest`) with an
OpenAI-compatible facade (`openai_facade`), all built from the job registry (`assistant.jobs`, seen remotely
through `jobs`) and one tokens file (`auth`). Commands: `chipassist mcp`, `chipassist serve`,
`chipassist api token ...` (`cli`)."""

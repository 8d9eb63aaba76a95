"""A long conversation is cut from the oldest end, visibly, with tool calls kept beside their outputs."""

from llama_stack_argocd.agent.history import as_items, history_tokens, trim
from llama_stack_argocd.context.budget import Budget

BUDGET = Budget(context_window=8192)


def turn(n: int, words: int = 200) -> list[dict]:
    filler = " ".join(f"word{n}x{i}" for i in range(words))
    return [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"question {n}: {filler}"}]},
        {"type": "function_call", "call_id": f"c{n}", "name": "argocd_application", "arguments": "{}"},
        {"type": "function_call_output", "call_id": f"c{n}", "output": f"result {n}: {filler}"},
        {"type": "message", "role": "assistant", "id": f"msg_{n}",
         "content": [{"type": "output_text", "text": f"answer {n}"}]},
    ]


def conversation(turns: int) -> list[dict]:
    return [item for n in range(turns) for item in turn(n)]


def text_of(items: list[dict]) -> str:
    return repr(items)


def test_a_history_within_the_room_is_left_as_it_is():
    items = conversation(2)
    trimmed = trim(items, history_tokens(items, BUDGET) + 10, BUDGET)
    assert trimmed.items == items and trimmed.omitted == 0


def test_the_oldest_turns_go_first_and_a_marker_says_how_many():
    items = conversation(10)
    room = history_tokens(items, BUDGET) // 3
    trimmed = trim(items, room, BUDGET)
    assert trimmed.tokens <= room
    assert trimmed.omitted > 0 and trimmed.kept + trimmed.omitted == len(items)
    assert "answer 9" in text_of(trimmed.items) and "answer 0" not in text_of(trimmed.items)
    first = trimmed.items[0]
    assert first["role"] == "user"
    marker = first["content"] if isinstance(first["content"], str) else first["content"][0]["text"]
    assert f"{trimmed.omitted:,} earlier conversation items" in marker and "omitted" in marker


def test_a_tool_call_never_loses_its_output():
    items = conversation(6)
    for room in range(300, history_tokens(items, BUDGET), 97):
        kept = trim(items, room, BUDGET).items
        calls = {i["call_id"] for i in kept if i.get("type") == "function_call"}
        outputs = {i["call_id"] for i in kept if i.get("type") == "function_call_output"}
        assert calls == outputs


def test_no_two_user_messages_in_a_row_at_the_cut():
    items = conversation(8)
    for room in range(300, history_tokens(items, BUDGET), 113):
        kept = trim(items, room, BUDGET).items
        roles = [i.get("role") for i in kept if i.get("type") == "message"]
        assert all(not (a == b == "user") for a, b in zip(roles, roles[1:], strict=False))


def test_an_answer_longer_than_the_room_is_cut_not_dropped():
    long_answer = " ".join(f"line{i}\n" for i in range(3000))
    items = [*conversation(1), {"type": "message", "role": "assistant", "content": long_answer}]
    trimmed = trim(items, 500, BUDGET)
    assert trimmed.tokens <= 500
    last = trimmed.items[-1]
    assert last["role"] == "assistant" and "line0" in last["content"] and "omitted" in last["content"]


def test_stored_items_keep_only_what_the_model_reads_and_drop_repeated_ids():
    items = as_items([
        {"type": "mcp_list_tools", "id": "l1", "server_label": "x", "tools": []},
        {"type": "message", "role": "assistant", "id": "msg_1", "content": "hi"},
        {"type": "mcp_call", "id": "mcp_1", "name": "t", "arguments": "{}", "server_label": "x"},
    ])
    assert [i["type"] for i in items] == ["message", "mcp_call"]
    assert "id" not in items[0] and items[1]["id"] == "mcp_1"

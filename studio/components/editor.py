"""The editor page's panels: the palette, the selected node's config form, the run inputs,
the problems and the test run."""

from __future__ import annotations

import reflex as rx

from studio.components import forms as form_parts
from studio.components import values
from studio.components.editor_canvas import KIND_ATTRIBUTE, SHORTCUTS
from studio.components.editor_fields import config_text
from studio.logic.editor import INPUT_TYPES, PaletteItem
from studio.logic.editor_forms import ConfigField
from studio.logic.editor_policies import PolicyField
from studio.states.editor import EditorState, InputRow, PaletteGroup, ProblemRow

PANEL = {"border": "1px solid var(--gray-a5)", "border_radius": "8px", "background": "white"}


def palette_item(item: rx.Var[PaletteItem]) -> rx.Component:
    return rx.box(
        rx.text(item.kind, weight="medium", size="2"),
        rx.text(
            item.doc,
            size="1",
            color_scheme="gray",
            class_name="plait-palette-doc",
            # two lines; the whole description is the entry's tooltip
            style={
                "display": "-webkit-box",
                "-webkit-line-clamp": "2",
                "-webkit-box-orient": "vertical",
                "overflow": "hidden",
            },
        ),
        draggable=item.addable & ~EditorState.read_only,
        custom_attrs={KIND_ATTRIBUTE: item.kind},
        on_click=rx.cond(item.addable, EditorState.add_kind(item.kind), rx.noop()),
        class_name=rx.cond(item.addable, "plait-palette-item", "plait-palette-item plait-python"),
        padding="6px 8px",
        border_radius="6px",
        border="1px solid var(--gray-a4)",
        cursor=rx.cond(item.addable & ~EditorState.read_only, "grab", "not-allowed"),
        opacity=rx.cond(item.addable & ~EditorState.read_only, "1", "0.55"),
        title=rx.cond(
            EditorState.read_only,
            "read only: nothing is added to this version",
            rx.cond(item.addable, "drag onto the canvas, or click to add", "add it in a notebook"),
        ),
        width="100%",
    )


def palette() -> rx.Component:
    def group(g: rx.Var[PaletteGroup]) -> rx.Component:
        return rx.vstack(
            rx.text(g.name, size="1", weight="bold", color_scheme="gray"),
            rx.foreach(g.kinds, palette_item),
            spacing="1",
            width="100%",
        )

    return rx.vstack(
        rx.input(
            placeholder="search node kinds",
            value=EditorState.query,
            on_change=EditorState.set_query,
            id="palette-search",
            width="100%",
        ),
        rx.foreach(EditorState.palette_groups, group),
        spacing="3",
        width="260px",
        min_width="260px",
        height="100%",
        overflow_y="auto",
        padding="8px",
        id="palette",
        **PANEL,
    )


def secret_picker(f: rx.Var[ConfigField], key: rx.Var[str]) -> rx.Component:
    """A stored secret by name (the names only: values never reach the studio), or a name
    typed in for a secret not stored yet."""
    pick = EditorState.set_field(f.name)
    return rx.vstack(
        rx.el.select(
            rx.el.option("(none)", value=""),
            rx.foreach(f.choices, lambda c: rx.el.option(c, value=c)),
            rx.cond(
                (f.value != "") & ~f.choices.contains(f.value),  # type: ignore[attr-defined]
                rx.el.option(rx.cond(f.missing, f.value + " (not stored)", f.value), value=f.value),
            ),
            default_value=f.value,
            on_change=pick,
            key=key + "pick" + f.value,
            class_name="plait-config-input plait-secret-select",
        ),
        rx.input(
            default_value=f.value,
            on_blur=pick,
            key=key + "name" + f.value,
            placeholder="or type a secret's name",
            width="100%",
            class_name="plait-secret-name",
        ),
        rx.cond(
            f.missing,
            rx.text(
                "not stored yet: store it under Settings, Secrets, before a run reads it",
                size="1",
                color_scheme="orange",
                class_name="plait-secret-missing",
            ),
        ),
        spacing="1",
        width="100%",
    )


def config_input(f: rx.Var[ConfigField]) -> rx.Component:
    key = EditorState.form_key.to_string() + EditorState.selected + f.name
    blur = EditorState.set_field(f.name)
    return rx.match(
        f.kind,
        (
            "boolean",
            rx.checkbox(
                default_checked=f.checked, on_change=EditorState.set_field(f.name), key=key
            ),
        ),
        (
            "choice",
            rx.el.select(
                rx.foreach(
                    f.choices, lambda c: rx.el.option(rx.cond(c == "", "(default)", c), value=c)
                ),
                default_value=f.value,
                on_change=EditorState.set_field(f.name),
                key=key,
                class_name="plait-config-input",
            ),
        ),
        ("secret", secret_picker(f, key)),
        (
            "code",
            config_text(
                value=f.value,
                code=True,
                rows=6,
                language=f.language,
                expression=f.expression,
                refs=EditorState.references,
                braces=f.braces,
                on_commit=blur,
                key=key,
            ),
        ),
        (
            "json",
            config_text(
                value=f.value,
                multiline=True,
                rows=3,
                placeholder="JSON",
                expression=f.expression,
                refs=EditorState.references,
                braces=f.braces,
                on_commit=blur,
                key=key,
            ),
        ),
        rx.cond(
            f.expression,
            config_text(
                value=f.value,
                expression=True,
                refs=EditorState.references,
                braces=f.braces,
                on_commit=blur,
                key=key,
            ),
            rx.input(
                default_value=f.value,
                on_blur=blur,
                key=key,
                type=rx.cond((f.kind == "integer") | (f.kind == "number"), "number", "text"),
                width="100%",
                class_name="plait-config-input",
            ),
        ),
    )


def config_row(f: rx.Var[ConfigField]) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(f.label, weight="medium", size="2"),
            rx.cond(f.required, rx.text("*", color_scheme="red", size="2")),
            rx.cond(f.expression, rx.badge("{{ }}", size="1", variant="soft")),
            spacing="1",
            align="center",
        ),
        config_input(f),
        rx.cond(f.hint != "", rx.text(f.hint, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
        class_name="plait-config-field",
        data_field=f.name,
    )


def policy_input(f: rx.Var[PolicyField]) -> rx.Component:
    key = EditorState.form_key.to_string() + EditorState.selected + "policy-" + f.name
    return rx.cond(
        f.kind == "choice",
        rx.el.select(
            rx.foreach(
                f.choices, lambda c: rx.el.option(rx.cond(c == "", "(default)", c), value=c)
            ),
            default_value=f.value,
            on_change=EditorState.set_policy(f.name),
            key=key,
            class_name="plait-config-input",
        ),
        rx.input(
            default_value=f.value,
            on_blur=EditorState.set_policy(f.name),
            key=key,
            placeholder=rx.cond(f.name == "timeout", "none", ""),
            width="100%",
            class_name="plait-config-input",
        ),
    )


def policy_row(f: rx.Var[PolicyField]) -> rx.Component:
    return rx.vstack(
        rx.text(f.label, weight="medium", size="2"),
        policy_input(f),
        rx.cond(
            f.error != "",
            rx.text(f.error, size="1", color_scheme="red", class_name="plait-policy-error"),
        ),
        rx.cond(f.hint != "", rx.text(f.hint, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
        class_name="plait-policy-field",
        data_policy=f.name,
    )


def policies_section() -> rx.Component:
    """How the node retries, times out, runs, joins and caches (its draft node's keys)."""
    return rx.vstack(
        rx.separator(),
        rx.text("Policies", weight="bold", size="2"),
        rx.foreach(EditorState.policies, policy_row),
        spacing="2",
        width="100%",
        id="node-policies",
    )


def readonly_policy(f: rx.Var[PolicyField]) -> rx.Component:
    return rx.hstack(
        rx.text(f.label, size="1", color_scheme="gray"),
        rx.code(rx.cond(f.value == "", "none", f.value), size="1"),
        justify="between",
        width="100%",
        class_name="plait-policy-field",
        data_policy=f.name,
    )


def readonly_node_panel() -> rx.Component:
    """A node of a version shown read only: what it runs (a function's source), its
    options, wiring and policies; nothing to change."""
    d = EditorState.detail
    return rx.cond(
        EditorState.selected != "",
        rx.vstack(
            rx.hstack(
                rx.badge(EditorState.selected_kind, id="node-kind"),
                rx.text(EditorState.selected, weight="bold", size="2", id="node-title"),
                width="100%",
                align="center",
            ),
            rx.cond(d.doc != "", rx.text(d.doc, size="2", color_scheme="gray")),
            rx.cond(
                d.source != "",
                rx.vstack(
                    rx.text("Source", weight="medium", size="2"),
                    rx.code_block(
                        d.source,
                        language="python",
                        width="100%",
                        font_size="11px",
                        id="node-source",
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            rx.cond(
                d.source_note != "",
                rx.text(d.source_note, size="1", color_scheme="gray", id="node-source-note"),
            ),
            rx.cond(
                d.config != "",
                rx.vstack(
                    rx.text("Options", weight="medium", size="2"),
                    rx.code_block(d.config, language="json", width="100%", font_size="11px"),
                    spacing="1",
                    width="100%",
                    id="node-options",
                ),
            ),
            rx.cond(
                d.wiring.length() > 0,
                rx.vstack(
                    rx.text("Inputs", weight="medium", size="2"),
                    rx.foreach(d.wiring, lambda w: rx.code(w, size="1")),
                    spacing="1",
                ),
            ),
            rx.text("Policies", weight="medium", size="2"),
            rx.foreach(EditorState.policies, readonly_policy),
            spacing="2",
            width="100%",
            id="node-readonly",
        ),
        rx.text("Select a node to see what it runs.", size="2", color_scheme="gray"),
    )


def node_panel() -> rx.Component:
    return rx.cond(EditorState.read_only, readonly_node_panel(), edit_node_panel())


def edit_node_panel() -> rx.Component:
    return rx.cond(
        EditorState.selected != "",
        rx.vstack(
            rx.hstack(
                rx.badge(EditorState.selected_kind),
                rx.input(
                    default_value=EditorState.selected,
                    on_blur=EditorState.rename_selected,
                    key=EditorState.form_key.to_string() + "name",
                    id="node-name",
                    width="100%",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                EditorState.config_error != "",
                rx.callout(EditorState.config_error, color_scheme="red", size="1"),
            ),
            rx.foreach(EditorState.config, config_row),
            policies_section(),
            rx.cond(
                EditorState.run_output_note != "",
                rx.vstack(
                    rx.text(EditorState.run_output_note, size="1", weight="medium"),
                    rx.cond(
                        EditorState.run_output.kind != "none",
                        values.value_view(EditorState.run_output),
                    ),
                    spacing="1",
                    width="100%",
                    id="node-run-output",
                ),
            ),
            spacing="3",
            width="100%",
            id="node-config",
        ),
        rx.text(
            rx.cond(
                EditorState.picked_count > 1,
                EditorState.picked_count.to_string() + " nodes selected",
                "Select a node to edit its config.",
            ),
            size="2",
            color_scheme="gray",
        ),
    )


def input_row(row: rx.Var[InputRow]) -> rx.Component:
    key = EditorState.form_key.to_string() + "-input-" + row.index.to_string()
    return rx.vstack(
        rx.hstack(
            rx.input(
                default_value=row.name,
                placeholder="name",
                on_blur=lambda v: EditorState.set_input(row.index, "name", v),
                key=key + "n",
                class_name="plait-input-name",
            ),
            rx.el.select(
                *[rx.el.option(t, value=t) for t in INPUT_TYPES],
                default_value=row.type,
                on_change=lambda v: EditorState.set_input(row.index, "type", v),
                key=key + "t",
            ),
            rx.icon_button(
                rx.icon("trash-2", size=14),
                on_click=EditorState.remove_input(row.index),
                size="1",
                variant="ghost",
                color_scheme="red",
            ),
            align="center",
            width="100%",
        ),
        rx.input(
            default_value=row.default,
            placeholder="default (empty: required)",
            on_blur=lambda v: EditorState.set_input(row.index, "default", v),
            key=key + "d",
            width="100%",
        ),
        rx.input(
            default_value=row.description,
            placeholder="description",
            on_blur=lambda v: EditorState.set_input(row.index, "description", v),
            key=key + "s",
            width="100%",
        ),
        spacing="1",
        width="100%",
        padding_bottom="8px",
        border_bottom="1px solid var(--gray-a4)",
        class_name="plait-run-input",
    )


def inputs_panel() -> rx.Component:
    return rx.cond(
        EditorState.read_only,
        rx.vstack(
            rx.foreach(
                EditorState.inputs,
                lambda row: rx.code(row.name, size="1", class_name="plait-run-input-name"),
            ),
            rx.text("The run inputs of this version.", size="1", color_scheme="gray"),
            spacing="1",
            width="100%",
        ),
        edit_inputs_panel(),
    )


def edit_inputs_panel() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Run inputs: expressions read them as inputs.<name>.", size="1", color_scheme="gray"
        ),
        rx.foreach(EditorState.inputs, input_row),
        rx.button("Add input", on_click=EditorState.add_input, size="1", variant="soft"),
        spacing="2",
        width="100%",
    )


def problem_row(p: rx.Var[ProblemRow]) -> rx.Component:
    return rx.box(
        rx.text(
            rx.cond(p.node != "", rx.code(p.node), rx.text("workflow", as_="span")),
            " ",
            p.message,
            size="1",
        ),
        on_click=EditorState.focus_node(p.node),
        cursor="pointer",
        padding="6px",
        border_radius="6px",
        background="var(--red-a2)",
        width="100%",
        class_name="plait-problem",
        data_node=p.node,
    )


def problems_panel() -> rx.Component:
    return rx.cond(
        EditorState.problem_count > 0,
        rx.vstack(rx.foreach(EditorState.problems, problem_row), spacing="1", width="100%"),
        rx.text("No problems: the workflow is valid.", size="2", color_scheme="green"),
    )


def run_panel() -> rx.Component:
    return rx.cond(
        EditorState.read_only,
        rx.text(
            "A test run runs the draft: run this version from its workflow page.",
            size="2",
            color_scheme="gray",
        ),
        edit_run_panel(),
    )


def edit_run_panel() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.vstack(
                form_parts.fields(EditorState.run_fields, "run-"),
                rx.button(
                    "Test run",
                    type="submit",
                    loading=EditorState.running,
                    disabled=EditorState.problem_count > 0,
                    id="test-run",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=EditorState.test_run,
            reset_on_submit=False,
            width="100%",
        ),
        rx.cond(
            EditorState.problem_count > 0,
            rx.text("Fix the problems to test-run.", size="1", color_scheme="gray"),
        ),
        rx.cond(
            EditorState.run_status != "",
            rx.hstack(
                rx.text("run ", rx.code(EditorState.run_status, id="run-status"), size="2"),
                rx.link(
                    "open run",
                    href="/runs/" + EditorState.run_id,
                    size="2",
                    is_external=True,
                ),
                spacing="2",
            ),
        ),
        rx.cond(
            EditorState.run_message != "",
            rx.text(EditorState.run_message, size="1", id="run-message"),
        ),
        spacing="3",
        width="100%",
    )


def side_panel() -> rx.Component:
    return rx.tabs.root(
        rx.tabs.list(
            rx.tabs.trigger("Node", value="node"),
            rx.tabs.trigger("Inputs", value="inputs"),
            rx.tabs.trigger(
                rx.hstack(
                    rx.text("Problems"),
                    rx.cond(
                        EditorState.problem_count > 0,
                        rx.badge(EditorState.problem_count, color_scheme="red", size="1"),
                    ),
                    spacing="1",
                    align="center",
                ),
                value="problems",
                id="problems-tab",
            ),
            rx.tabs.trigger("Test run", value="run", id="run-tab"),
        ),
        rx.box(
            rx.tabs.content(node_panel(), value="node"),
            rx.tabs.content(inputs_panel(), value="inputs"),
            rx.tabs.content(problems_panel(), value="problems"),
            rx.tabs.content(run_panel(), value="run"),
            padding="10px",
            overflow_y="auto",
            flex="1",
        ),
        default_value="node",
        width="380px",
        min_width="380px",
        height="100%",
        display="flex",
        flex_direction="column",
        **PANEL,
    )


def shortcuts_help() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(rx.icon("keyboard", size=14), "Shortcuts", size="1", variant="soft")
        ),
        rx.popover.content(
            rx.vstack(
                *[
                    rx.hstack(
                        rx.code(keys, size="1"),
                        rx.text(what, size="1"),
                        justify="between",
                        width="100%",
                    )
                    for keys, what in SHORTCUTS
                ],
                spacing="1",
                width="360px",
            ),
            id="shortcuts",
        ),
    )


def publish_dialog() -> rx.Component:
    """Publish with a message; a draft with problems is refused, its problems listed."""
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button("Publish", on_click=EditorState.open_publish, size="1", id="publish")
        ),
        rx.dialog.content(
            rx.dialog.title("Publish ", EditorState.workflow),
            rx.form(
                rx.vstack(
                    rx.text_area(
                        name="message",
                        placeholder="What changed?",
                        id="publish-message",
                        width="100%",
                    ),
                    rx.cond(
                        EditorState.publish_problems.length() > 0,
                        rx.vstack(
                            rx.text(
                                "Fix these problems first: a draft with problems is not published.",
                                size="1",
                                color_scheme="red",
                            ),
                            rx.foreach(
                                EditorState.publish_problems,
                                lambda p: rx.text(p, size="1", class_name="publish-problem"),
                            ),
                            id="publish-problems",
                            spacing="1",
                        ),
                    ),
                    rx.cond(
                        EditorState.publish_note != "",
                        rx.text(EditorState.publish_note, size="1", id="publish-note"),
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", type="button")),
                        rx.button("Publish version", type="submit", id="publish-submit"),
                        justify="end",
                        width="100%",
                    ),
                    width="100%",
                ),
                on_submit=EditorState.publish,
                reset_on_submit=False,
            ),
        ),
        open=EditorState.publish_open,
        on_open_change=EditorState.set_publish_open,
    )


def toolbar() -> rx.Component:
    return rx.hstack(
        rx.input(
            default_value=EditorState.title,
            on_blur=EditorState.set_title,
            key=EditorState.form_key.to_string() + "title",
            id="workflow-name",
            read_only=EditorState.read_only,
            width="220px",
        ),
        rx.cond(
            EditorState.read_only,
            rx.fragment(),
            rx.fragment(
                rx.button(
                    "Undo", on_click=EditorState.undo, disabled=~EditorState.can_undo, size="1"
                ),
                rx.button(
                    "Redo", on_click=EditorState.redo, disabled=~EditorState.can_redo, size="1"
                ),
                rx.button("Auto-layout", on_click=EditorState.layout, size="1", variant="soft"),
            ),
        ),
        rx.button("Zoom to fit", on_click=EditorState.zoom_to_fit, size="1", variant="soft"),
        rx.button("Export JSON", on_click=EditorState.export, size="1", variant="soft"),
        shortcuts_help(),
        rx.spacer(),
        rx.text(EditorState.draft_status, size="1", color_scheme="gray", id="draft-status"),
        rx.cond(EditorState.read_only, rx.fragment(), publish_dialog()),
        rx.cond(
            EditorState.read_only,
            rx.fragment(),  # a version shown is not checked as a draft is
            rx.cond(
                EditorState.problem_count > 0,
                rx.badge(
                    EditorState.problem_count.to_string()
                    + rx.cond(EditorState.problem_count == 1, " problem", " problems"),
                    color_scheme="red",
                    id="problem-badge",
                ),
                rx.badge("valid", color_scheme="green", id="problem-badge"),
            ),
        ),
        rx.text(
            EditorState.node_count.to_string() + " nodes · checked in " + EditorState.check_ms,
            " ms",
            size="1",
            color_scheme="gray",
            id="check-time",
            data_revision=EditorState.revision,
        ),
        width="100%",
        align="center",
        spacing="2",
    )

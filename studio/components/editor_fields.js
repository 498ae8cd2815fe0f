// PlaitConfigText: a config field's text (studio/components/editor_fields.py). A code field is
// a code editor (react-simple-code-editor: monospace, highlighted, Tab indents); an
// expression field completes the names its node may read (props.refs) from what is typed
// before the caret, and lists them as chips that insert one at the caret. The text goes to
// the server (onCommit) on blur and on each insertion, as the form's other inputs do.
// plaitCompletion and plaitInsert mirror completion and insert of
// studio/logic/editor_forms.py, where they are tested.
const PLAIT_PY_WORDS = new Set(("False None True and as assert async await break class continue def del " +
  "elif else except finally for from global if import in is lambda match nonlocal not or pass raise " +
  "return try while with yield").split(" "));
const PLAIT_PY = /(#[^\n]*)|("""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_]\w*)/g;
const PLAIT_JINJA = /(\{#[\s\S]*?(?:#\}|$))|(\{%[\s\S]*?(?:%\}|$))|(\{\{[\s\S]*?(?:\}\}|$))/g;
const PLAIT_COLOURS = {com: "#6b7280", str: "#047857", num: "#b45309", kw: "#7c3aed", stmt: "#7c3aed", expr: "#1d4ed8"};

function plaitEscape(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function plaitSpan(kind, text) {
  return '<span class="plait-tok-' + kind + '" style="color:' + PLAIT_COLOURS[kind] + '">' + plaitEscape(text) + "</span>";
}

function plaitHighlight(code, language) {
  const pattern = language === "python" ? PLAIT_PY : (language === "jinja" ? PLAIT_JINJA : null);
  if (!pattern) return plaitEscape(code);
  let out = "", last = 0, m;
  pattern.lastIndex = 0;
  while ((m = pattern.exec(code)) !== null) {
    if (m[0] === "") { pattern.lastIndex++; continue; }
    out += plaitEscape(code.slice(last, m.index));
    if (language === "python") {
      if (m[1]) out += plaitSpan("com", m[0]);
      else if (m[2]) out += plaitSpan("str", m[0]);
      else if (m[3]) out += plaitSpan("num", m[0]);
      else out += PLAIT_PY_WORDS.has(m[0]) ? plaitSpan("kw", m[0]) : plaitEscape(m[0]);
    } else {
      out += plaitSpan(m[1] ? "com" : (m[2] ? "stmt" : "expr"), m[0]);
    }
    last = m.index + m[0].length;
  }
  return out + plaitEscape(code.slice(last));
}

function plaitCompletion(refs, before, braces) {
  let partial;
  if (braces) {
    const opened = before.match(/\{\{\s*([\w.]*)$/);
    if (!opened) return null;
    partial = opened[1];
  } else {
    partial = before.match(/[\w.]*$/)[0];
    if (!partial) return null;
  }
  const items = refs.filter((r) => r.startsWith(partial) && r !== partial);
  return items.length ? {start: before.length - partial.length, items: items} : null;
}

function plaitInsert(text, caret, ref, braces, start) {
  const before = text.slice(0, start === null || start === undefined ? caret : start);
  const after = text.slice(caret);
  let piece;
  if (!braces) piece = ref;
  else if (start === null || start === undefined) piece = "{{ " + ref + " }}";
  else piece = (before.endsWith("{") ? " " : "") + ref + (/^\s*\}\}/.test(after) ? "" : " }}");
  return [before + piece + after, before.length + piece.length];
}

// the package is CommonJS: a bundler may hand over its module object rather than its default
const PlaitCodeEditor = (Editor && Editor.default) || Editor;
const PLAIT_BOX = {width: "100%", boxSizing: "border-box", border: "1px solid var(--gray-a7)",
  borderRadius: "var(--radius-2)", background: "var(--color-surface)", fontSize: 13, color: "var(--gray-12)"};
const PLAIT_MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";

function PlaitConfigText(props) {
  const [text, setText] = useState(props.value || "");
  const [menu, setMenu] = useState(null);
  const box = useRef(null);
  const committed = useRef(props.value || "");
  const current = useRef(text);
  current.current = text;
  const report = useRef(props);
  report.current = props;
  const refs = props.expression ? (props.refs || []) : [];
  const field = () => box.current && box.current.querySelector("textarea, input");
  const commit = (value) => {
    if (value === committed.current) return;
    committed.current = value;
    if (report.current.onCommit) report.current.onCommit(value);
  };
  const changed = (value) => {
    setText(value);
    const el = field();
    const caret = el ? el.selectionStart : value.length;
    const found = report.current.expression ? plaitCompletion(report.current.refs || [], value.slice(0, caret), !!report.current.braces) : null;
    setMenu(found ? {...found, index: 0, caret} : null);
  };
  const choose = (ref, start) => {
    const el = field();
    const value = current.current;
    const caret = el && document.activeElement === el ? el.selectionStart : value.length;
    if (start !== null && menu && caret !== menu.caret) {
      // the caret moved (a click in the field) since the list was offered: it is stale
      setMenu(null);
      return;
    }
    const [next, at] = plaitInsert(value, caret, ref, !!report.current.braces, start);
    setText(next);
    setMenu(null);
    commit(next);
    setTimeout(() => { const f = field(); if (f) { f.focus(); f.setSelectionRange(at, at); } }, 0);
  };
  const onKeyDown = (e) => {
    if (!menu) return;
    const n = menu.items.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      setMenu({...menu, index: (menu.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n});
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      choose(menu.items[menu.index], menu.start);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      setMenu(null);
    } else if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) {
      setMenu(null);
    }
  };
  const keep = (e) => e.preventDefault();  // a click on a suggestion leaves the caret where it is
  let input;
  if (props.code) {
    input = (
      <PlaitCodeEditor value={text} onValueChange={changed} onKeyDown={onKeyDown}
        highlight={(c) => plaitHighlight(c, props.language)} padding={8} tabSize={4} insertSpaces={true}
        textareaClassName="plait-code-input" preClassName="plait-code-highlight"
        style={{...PLAIT_BOX, fontFamily: PLAIT_MONO, fontSize: 12, lineHeight: 1.5, minHeight: (props.rows || 6) * 18 + 16}} />
    );
  } else if (props.multiline) {
    input = (
      <textarea value={text} rows={props.rows || 3} placeholder={props.placeholder || ""} spellCheck={false}
        onChange={(e) => changed(e.target.value)} onKeyDown={onKeyDown}
        style={{...PLAIT_BOX, fontFamily: PLAIT_MONO, fontSize: 12, padding: "6px 8px", resize: "vertical"}} />
    );
  } else {
    input = (
      <input value={text} type="text" spellCheck={false} autoComplete="off"
        onChange={(e) => changed(e.target.value)} onKeyDown={onKeyDown}
        style={{...PLAIT_BOX, height: 32, padding: "0 8px"}} />
    );
  }
  return (
    <div ref={box} className="plait-config-text" style={{width: "100%", position: "relative"}}
         onBlur={(e) => { if (!box.current.contains(e.relatedTarget)) { setMenu(null); commit(current.current); } }}>
      {input}
      {menu ? (
        <div className="plait-completion" role="listbox"
             style={{position: "absolute", zIndex: 20, left: 0, right: 0, marginTop: 2, background: "var(--color-panel-solid)",
                     border: "1px solid var(--gray-a7)", borderRadius: 6, boxShadow: "0 4px 12px rgba(0,0,0,.12)", maxHeight: 180, overflowY: "auto"}}>
          {menu.items.map((r, i) => (
            <div key={r} role="option" aria-selected={i === menu.index} className="plait-completion-item" data-ref={r}
                 onMouseDown={keep} onClick={() => choose(r, menu.start)}
                 style={{padding: "3px 8px", fontFamily: PLAIT_MONO, fontSize: 12, cursor: "pointer",
                         background: i === menu.index ? "var(--accent-a4)" : "transparent"}}>{r}</div>
          ))}
        </div>
      ) : null}
      {refs.length ? (
        <div className="plait-refs" style={{display: "flex", flexWrap: "wrap", gap: 4, marginTop: 4}}>
          {refs.map((r) => (
            <button key={r} type="button" className="plait-ref" data-ref={r} title={"insert " + r + " at the caret"}
                    onMouseDown={keep} onClick={() => choose(r, null)}
                    style={{fontFamily: PLAIT_MONO, fontSize: 11, padding: "1px 6px", borderRadius: 10, cursor: "pointer",
                            border: "1px solid var(--accent-a6)", background: "var(--accent-a2)", color: "var(--accent-11)"}}>
              {"+ " + r}
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}

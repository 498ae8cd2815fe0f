// PlaitEditorCanvas: React Flow with the editor's events (studio/components/editor_canvas.py).
// Inserted into the page's module after its imports (Reflex custom code): ReactFlow's and
// React's names used here are imported by EditorCanvas.add_imports.
const PLAIT_KIND = "application/x-plait-kind";
if (typeof document !== "undefined" && !window.__plaitKindDrag) {
  window.__plaitKindDrag = true;
  document.addEventListener("dragstart", (e) => {
    const el = e.target && e.target.closest && e.target.closest("[data-plait-kind]");
    if (el) {
      e.dataTransfer.setData(PLAIT_KIND, el.getAttribute("data-plait-kind"));
      e.dataTransfer.setData("text/plain", el.getAttribute("data-plait-kind"));
      e.dataTransfer.effectAllowed = "copyMove";
    }
  });
}

const PlaitEditorNode = memo(function PlaitEditorNode({ data, selected }) {
  const border = data.error ? "2px solid #dc2626" : (selected ? "2px solid #2563eb" : "1px solid #94a3b8");
  return (
    <div className={"plait-enode" + (data.error ? " plait-enode-error" : "") + (data.status ? " plait-" + data.status : "")}
         data-node={data.label} title={data.error || data.doc || data.kind}
         style={{width: 172, minHeight: 44, padding: "4px 8px", borderRadius: 6, border: border,
                 background: data.fill || "#ffffff", fontSize: 12, boxSizing: "border-box"}}>
      <Handle type="target" position={Position.Left} />
      <div style={{fontWeight: 600, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap"}}>{data.label}</div>
      <div style={{color: "#475569", fontSize: 11}}>
        <span className="plait-enode-kind">{data.kind}</span>
        {data.python ? <span className="plait-code-badge" title="Python code: change it in its notebook or module" style={{marginLeft: 6, padding: "0 4px", borderRadius: 4, background: "#fef3c7", color: "#92400e", fontSize: 10}}>code</span> : null}
        {data.status ? " · " + data.status : ""}
      </div>
      {data.error ? <div className="plait-enode-message" style={{color: "#b91c1c", fontSize: 10, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap"}}>⚠ {data.error}</div> : null}
      <Handle type="source" position={Position.Right} />
    </div>
  );
});
const plaitEditorNodeTypes = { plait: PlaitEditorNode };
const PLAIT_FIT = {padding: 0.15, maxZoom: 1.2};
const PLAIT_KEYS = new Set(["mod+z", "mod+shift+z", "mod+y", "mod+c", "mod+v", "mod+a", "delete", "backspace", "l", "f"]);

function PlaitEditorInner(props) {
  const flow = useReactFlow();
  const [nodes, setNodes] = useState(props.nodes || []);
  const [edges, setEdges] = useState(props.edges || []);
  const report = useRef(props);
  report.current = props;
  useEffect(() => {
    setNodes((prev) => {
      const by = Object.fromEntries(prev.map((n) => [n.id, n]));
      const given = props.nodes || [];
      // a node added selected (dropped, pasted) takes the selection from the others
      const fresh = given.some((n) => !by[n.id] && n.selected);
      return given.map((n) => {
        const p = by[n.id];
        if (!p) return n;
        return {...n, selected: fresh ? false : p.selected, dragging: p.dragging, position: p.dragging ? p.position : n.position};
      });
    });
  }, [props.nodes]);
  useEffect(() => {
    setEdges((prev) => {
      const by = Object.fromEntries(prev.map((e) => [e.id, e]));
      return (props.edges || []).map((e) => ({...e, selected: by[e.id] ? by[e.id].selected : false}));
    });
  }, [props.edges]);
  useEffect(() => {
    if (!props.fit) return;
    const t = setTimeout(() => flow.fitView({padding: 0.15, duration: 200}), 60);
    return () => clearTimeout(t);
  }, [props.fit]);
  useEffect(() => {
    if (!props.focus) return;
    const name = props.focus.split("#")[0];
    const n = flow.getNode(name);
    if (n) flow.setCenter(n.position.x + 86, n.position.y + 22, {zoom: 1.2, duration: 300});
    setNodes((ns) => ns.map((x) => ({...x, selected: x.id === name})));
  }, [props.focus]);
  useEffect(() => {
    const onKey = (e) => {
      const t = e.target;
      if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
      const combo = ((e.ctrlKey || e.metaKey) ? "mod+" : "") + (e.shiftKey && (e.ctrlKey || e.metaKey) ? "shift+" : "") + e.key.toLowerCase();
      if (!PLAIT_KEYS.has(combo)) return;
      // a read-only view answers only the keys that change nothing
      if (report.current.readOnly && !["f", "mod+a", "mod+c"].includes(combo)) return;
      e.preventDefault();
      if (combo === "f") { flow.fitView({padding: 0.15, duration: 200}); return; }
      if (combo === "mod+a") { setNodes((ns) => ns.map((x) => ({...x, selected: true}))); return; }
      if (report.current.onKey) report.current.onKey(combo);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [flow]);
  const onNodesChange = useCallback((changes) => setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), ns)), []);
  const onEdgesChange = useCallback((changes) => setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), es)), []);
  const moved = useCallback((dragged) => {
    if (report.current.onMoved && dragged && dragged.length) {
      report.current.onMoved(dragged.map((n) => ({id: n.id, x: n.position.x, y: n.position.y})));
    }
  }, []);
  const onConnect = useCallback((c) => {
    if (report.current.onConnectNodes && !report.current.readOnly) report.current.onConnectNodes(c.source, c.target);
  }, []);
  const onNodeDragStop = useCallback((e, node, dragged) => moved(dragged && dragged.length ? dragged : [node]), [moved]);
  const onSelectionDragStop = useCallback((e, dragged) => moved(dragged), [moved]);
  const onSelectionChange = useCallback(({nodes: ns, edges: es}) => {
    if (report.current.onSelectItems) report.current.onSelectItems(ns.map((n) => n.id), es.map((x) => x.id));
  }, []);
  const onDragOver = useCallback((e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; }, []);
  const onDrop = useCallback((e) => {
    const kind = e.dataTransfer.getData(PLAIT_KIND);
    if (!kind || report.current.readOnly) return;
    e.preventDefault();
    const p = flow.screenToFlowPosition({x: e.clientX, y: e.clientY});
    if (report.current.onDropKind) report.current.onDropKind(kind, p.x - 86, p.y - 22);
  }, [flow]);
  return (
    <div className="plait-editor-canvas" style={{width: "100%", height: "100%"}}
         onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow nodes={nodes} edges={edges} nodeTypes={plaitEditorNodeTypes}
        onNodesChange={onNodesChange} onEdgesChange={onEdgesChange} onConnect={onConnect}
        onNodeDragStop={onNodeDragStop} onSelectionDragStop={onSelectionDragStop}
        onSelectionChange={onSelectionChange}
        nodesDraggable={!props.readOnly} nodesConnectable={!props.readOnly}
        deleteKeyCode={null} fitView={true} fitViewOptions={PLAIT_FIT}
        minZoom={0.05} maxZoom={2} onlyRenderVisibleElements={nodes.length > 120}>
        <Background />
        <Controls />
        <MiniMap pannable={true} zoomable={true} />
      </ReactFlow>
    </div>
  );
}

function PlaitEditorCanvas(props) {
  return (<ReactFlowProvider><PlaitEditorInner {...props} /></ReactFlowProvider>);
}

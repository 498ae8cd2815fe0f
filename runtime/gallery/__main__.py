"""``python -m runtime.gallery``: write each template file's spec and version hash again."""

from runtime.gallery import HERE, refresh

for path in sorted(HERE.glob("*.json")):
    refresh(path)
    print(f"refreshed {path.name}")

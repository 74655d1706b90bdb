{#-
  Privacy policy, written once and enforced on every dbt invocation (on-run-start):
  1. every column of every model declares `meta.pii` in YAML, one of
     direct | quasi | pseudonym | sensitive | none;
  2. no model under models/marts/ has a `direct` column;
  3. every mart enforces its contract, so the declared columns are exactly the
     columns built (an undeclared column cannot slip into a mart unclassified).
  4. no mart has a `person_id` column: it is the warehouse's internal integer id of a
     person (restricted.person_registry); marts publish the person as `patient_key` only.
  Any breach stops the run with a message naming model and column.
  meta.pii is the one declaration of a model column's class: the published-schema allow-list
  copies the marts' classes (python -m patient360.gates.schema_allowlist --sync; tests fail on
  drift) and tests/test_dbt_build.py checks the built marts against the manifest.
-#}
{% macro enforce_pii_policy() %}
    {% if execute %}
        {% set allowed = ['direct', 'quasi', 'pseudonym', 'sensitive', 'none'] %}
        {% set problems = [] %}
        {% for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name %}
            {% set is_mart = node.original_file_path.startswith('models/marts/') %}
            {% if node.columns | length == 0 %}
                {% do problems.append(node.name ~ ': no columns documented') %}
            {% endif %}
            {% for col in node.columns.values() %}
                {% set pii = (col.meta or {}).get('pii') %}
                {% if pii not in allowed %}
                    {% do problems.append(node.name ~ '.' ~ col.name ~ ': meta.pii must be one of ' ~ allowed | join('|') ~ ' (got ' ~ pii ~ ')') %}
                {% elif is_mart and pii == 'direct' %}
                    {% do problems.append(node.name ~ '.' ~ col.name ~ ': direct identifier in a mart') %}
                {% endif %}
                {% if is_mart and col.name == 'person_id' %}
                    {% do problems.append(node.name ~ '.person_id: the internal person id in a mart (publish patient_key)') %}
                {% endif %}
                {% if not col.description %}
                    {% do problems.append(node.name ~ '.' ~ col.name ~ ': no description') %}
                {% endif %}
            {% endfor %}
            {% if is_mart and not node.config.contract.enforced %}
                {% do problems.append(node.name ~ ': marts must enforce their contract') %}
            {% endif %}
        {% endfor %}
        {% if problems %}
            {{ exceptions.raise_compiler_error("PII policy violated:\n  - " ~ problems | join("\n  - ")) }}
        {% endif %}
    {% endif %}
{% endmacro %}
